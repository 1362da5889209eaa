"""The project's configs: the paper protocol in every ISPRS config, the old
config paths, and configs outside the repository."""

import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmseg_stunet.utils.paths import config_path

ISPRS = [
    'st_unet/st-unet_1xb8-100e_vaihingen-256x256',
    'st_unet/st-unet_1xb8-100e_potsdam-256x256',
    'st_unet/st-unet_1xb8-100e_vaihingen-256x256-aug',
    'st_unet/st-unet-deeplabv3plus_1xb8-100e_vaihingen-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_vaihingen-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8-dcn_1xb8-100e_vaihingen-256x256',
    'st_unet/st-unet_1xb8-amp-100e_vaihingen-256x256',
    'st_unet/st-unet_1xb8-amp-100e_potsdam-256x256',
    'st_unet/st-unet-deeplabv3plus_1xb8-amp-100e_vaihingen-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-amp-100e_vaihingen-256x256',
    'st_unet/st-unet_1xb8-100e_potsdam-irrg-256x256',
    'st_unet/st-unet_1xb8-100e_potsdam-rgbir-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-256x256',
    'deeplabv3plus/deeplabv3plus_r50-d8_1xb8-100e_potsdam-irrg-256x256',
]


ISPRS_PATHS = [config_path(f'{name}.py') for name in ISPRS]


@pytest.mark.parametrize('name', ISPRS)
def test_configs_follow_the_paper_protocol(name):
    cfg = Config.fromfile(config_path(f'{name}.py'))
    assert cfg.custom_imports['imports'] == ['mmseg_stunet']
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.log_processor.by_epoch
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD',
        0.01,
        0.9,
        1e-4,
    )
    (poly,) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min) == ('PolyLR', 0.9, 0.0)
    assert 'end' not in poly  # mmengine ends it with train_cfg.max_epochs
    assert poly.convert_to_iter_based  # stepped every iteration
    losses = cfg.model.decode_head.loss_decode
    assert [(d.type, d.loss_weight) for d in losses] == [
        ('CrossEntropyLoss', 0.5),
        ('ClassWiseDiceLoss', 0.5),
    ]
    assert losses[0].avg_non_ignore  # mean over labelled pixels, as torch
    # auxiliary heads too (mmseg's default averages over all pixels, and
    # warns about it in every run)
    aux = cfg.model.get('auxiliary_head') or []
    for head in aux if isinstance(aux, list) else [aux]:
        head_losses = head.loss_decode
        for loss in (
            head_losses if isinstance(head_losses, list) else [head_losses]
        ):
            if loss.type == 'CrossEntropyLoss':
                assert loss.get('avg_non_ignore'), (name, loss)
    assert cfg.model.get('pretrained') is None
    assert cfg.test_evaluator.type == 'ISPRSMetric'
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.model.data_preprocessor.size == (256, 256)
    # 256 patches whatever the tile size: cropped in training, 256 windows
    # without overlap in testing
    assert cfg.model.test_cfg == dict(
        mode='slide', crop_size=(256, 256), stride=(256, 256)
    )
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    if name.endswith('-aug'):
        assert 'RandomFlip' in train and 'RandomCrop' in train
    else:
        assert train == [
            'LoadImageFromFile',
            'LoadAnnotations',
            'RandomCrop',
            'PackSegInputs',
        ]
        crop = cfg.train_dataloader.dataset.pipeline[2]
        assert crop.crop_size == (256, 256) and 'cat_max_ratio' not in crop
    # labels are checked by the data sets (CheckSegMap after
    # LoadAnnotations), not by a step mmseg's inference API would run
    assert cfg.train_dataloader.dataset.type.startswith('ISPRS')
    assert cfg.test_dataloader.dataset.type.startswith('ISPRS')
    test = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert test == ['LoadImageFromFile', 'LoadAnnotations', 'PackSegInputs']
    assert 'CheckSegMap' not in train
    amp = cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'
    assert amp == ('-amp-' in name)


def test_old_config_paths_still_work():
    """Every top-level config is a one-line pointer to a moved config; the
    paper config loads the same through its old path."""
    old = sorted(glob.glob(config_path('*.py')))
    assert len(old) == 11
    for path in old:
        with open(path) as f:
            lines = [ln for ln in f if not ln.startswith('#') and ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("_base_ = './"), path
        target = lines[0].split("'")[1]
        assert osp.isfile(osp.join(osp.dirname(path), target)), path
    cfg = Config.fromfile(config_path('st_unet_vaihingen.py'))
    moved = Config.fromfile(ISPRS_PATHS[0])
    assert cfg.to_dict() == moved.to_dict()


@pytest.mark.cuda
@pytest.mark.parametrize('name', [n for n in ISPRS if '-amp-' in n])
def test_amp_config_builds_and_steps_on_cuda(name):
    """Every mixed-precision config on the GPU: float16 autocast with a
    GradScaler, channels-last weights, finite losses, and within ten steps
    (the scaler skips those whose gradients overflow) one that moves the
    weights."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    import mmseg_stunet  # noqa: F401  (registers the wrapper and models)

    cfg = Config.fromfile(config_path(f'{name}.py'))
    init_default_scope('mmseg')
    bn = dict(type='BN', requires_grad=True)  # SyncBN needs a process group
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        if cfg.model.get(key) and 'norm_cfg' in cfg.model[key]:
            cfg.model[key].norm_cfg = bn
    model = MODELS.build(cfg.model).cuda().train()
    assert cfg.channels_last
    model = model.to(memory_format=torch.channels_last)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(optim.loss_scaler).__name__ == 'GradScaler'
    assert optim.cast_dtype in (None, torch.float16)
    gen = torch.Generator().manual_seed(0)
    size = cfg.model.data_preprocessor.size
    inputs = [
        torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=gen)
        for _ in range(2)
    ]
    samples = []
    for _ in range(2):
        sample = SegDataSample(
            gt_sem_seg=PixelData(
                data=torch.randint(0, 6, (1, *size), generator=gen)
            )
        )
        sample.set_metainfo(
            dict(img_shape=size, ori_shape=size, pad_shape=size)
        )
        samples.append(sample)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    for _ in range(10):  # the scaler skips steps until its scale fits
        losses = model.train_step(
            dict(inputs=inputs, data_samples=samples), optim
        )
        assert all(torch.isfinite(v).all() for v in losses.values()), losses
        if not torch.equal(before[0], params[0]):
            break
    moved = sum(not torch.equal(b, p) for b, p in zip(before, params))
    assert moved > len(params) // 2, f'{moved} of {len(params)} moved'
    assert all(p.dtype == torch.float32 for p in params)


#: every config a user can train with (the bases under _base_ excepted)
TRAINING_CONFIGS = sorted(
    path
    for path in glob.glob(config_path('**', '*.py'), recursive=True)
    if '_base_' not in path.split(osp.sep)
)


@pytest.mark.parametrize(
    'path',
    TRAINING_CONFIGS,
    ids=[osp.relpath(p, config_path()) for p in TRAINING_CONFIGS],
)
def test_training_loaders_drop_the_last_incomplete_batch(path):
    """A last batch of one sample (tile count = 1 mod batch size) stops
    BatchNorm in training (DeepLabV3+'s image pooling: one value per
    channel); every training loader drops it."""
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.get('drop_last') is True


STUNET_CONFIGS = [
    p
    for p in TRAINING_CONFIGS
    if Config.fromfile(p).model.backbone.type == 'STUNetBackbone'
]


@pytest.mark.parametrize(
    'path',
    STUNET_CONFIGS,
    ids=[osp.relpath(p, config_path()) for p in STUNET_CONFIGS],
)
def test_stunet_configs_pad_small_test_images(path):
    """Test images with a side below 64 (ST-UNet's deepest map 1x1: tiny
    tiles, a 0.5x TTA scale) are padded by the data preprocessor and the
    prediction cropped back (mmseg's postprocess_result)."""
    cfg = Config.fromfile(path)
    assert cfg.model.data_preprocessor.test_cfg == dict(size=(64, 64))


@pytest.mark.parametrize('size', [(32, 32), (10, 7), (20, 100)])
def test_stunet_tests_small_images(size):
    """tools/test.py's path (test_step: data preprocessor, slide
    inference, post-processing) on images whose deepest ST-UNet map is
    1x1 or one row: a class map of the image's size, not a GroupNorm
    error."""
    import torch
    from mmseg.apis import init_model
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(config_path('st_unet_demo.py'))
    torch.manual_seed(0)
    model = init_model(cfg, None, 'cpu').eval()
    img = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(ori_shape=size, img_shape=size))
    with torch.no_grad():
        (out,) = model.test_step(dict(inputs=[img], data_samples=[sample]))
    assert out.pred_sem_seg.data.shape == (1, *size)
    assert out.seg_logits.data.shape == (6, *size)
