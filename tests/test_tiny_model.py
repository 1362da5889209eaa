"""The project's one tiny ST-UNet (configs/_base_/models/st_unet_tiny.py)
is the demo's model and the tests' model."""

from helpers import SMALL_STUNET_BACKBONE, SMALL_STUNET_HEAD, tiny_stunet_model
from mmengine.config import Config

from mmseg_stunet.utils.paths import config_path

DEMO = config_path(
    'st_unet', 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
)


def test_demo_and_tests_build_the_same_tiny_model():
    demo = Config.fromfile(DEMO).model.to_dict()
    assert demo['backbone'] == SMALL_STUNET_BACKBONE
    assert demo['decode_head'] == SMALL_STUNET_HEAD
    # the demo only changes its input and test windows
    tiny = tiny_stunet_model()
    assert {k for k in demo if demo[k] != tiny[k]} == {
        'data_preprocessor',
        'test_cfg',
    }


def test_the_tiny_model_is_the_paper_model_narrowed():
    paper = Config.fromfile(
        config_path('_base_', 'models', 'st_unet.py')
    ).model.to_dict()
    tiny = tiny_stunet_model()
    assert tiny['type'] == paper['type']
    assert tiny['backbone']['type'] == paper['backbone']['type']
    assert (
        tiny['decode_head']['loss_decode']
        == paper['decode_head']['loss_decode']
    )
    assert tiny['backbone']['embed_dims'] < paper['backbone']['embed_dims']
    # every width of the head follows the backbone's outputs (x4 per stage)
    width = tiny['backbone']['base_channels'] * 4
    assert tiny['decode_head']['in_channels'] == tuple(
        width * 2**i for i in range(4)
    )
