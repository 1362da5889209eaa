"""The Python-API snippets of docs/inference.md ("mmseg's Python API") run
as written, on a PNG tile and a GeoTIFF window holding the same IRRG
pixels, and agree with each other (the band order the text states)."""

import os
import re

import cv2
import numpy as np
import torch

from mmseg_stunet.datasets.isprs import ISPRS_CLASSES, ISPRS_PALETTE
from mmseg_stunet.testing import write_geotiff
from mmseg_stunet.utils.paths import config_path, project_root

SECTION = "## mmseg's Python API"
TINY = config_path(
    'st_unet', 'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128.py'
)


def doc_snippets():
    """The ``python`` code blocks of the section, in order."""
    with open(os.path.join(project_root(), 'docs', 'inference.md')) as f:
        text = f.read()
    section = text.split(SECTION, 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, re.S)


def test_the_section_has_the_three_snippets():
    blocks = doc_snippets()
    assert len(blocks) == 3
    assert 'init_model' in blocks[0] and "'tile.png'" in blocks[0]
    assert 'rasterio' in blocks[1] and 'MMSegInferencer' in blocks[2]


def _scene(tmp_path):
    """An IRRG scene (bands IR, R, G) as a GeoTIFF and its 256x256 corner as
    the PNG tile the converter would write."""
    rng = np.random.RandomState(0)
    bands = cv2.GaussianBlur(
        rng.randint(0, 256, (300, 320, 3), np.uint8), (7, 7), 0
    ).transpose(2, 0, 1)  # (3, H, W)
    path = str(tmp_path / 'top_mosaic_09cm_area11.tif')
    write_geotiff(path, bands, georef=False)
    corner = bands[:, :256, :256].transpose(1, 2, 0)  # IR, R, G
    # a PNG's R, G, B channels hold IR, R, G; cv2 writes B, G, R arrays
    cv2.imwrite(str(tmp_path / 'tile.png'), corner[..., ::-1])
    return corner


def test_doc_snippets_run_and_agree(tmp_path, monkeypatch):
    corner = _scene(tmp_path)
    from mmseg.apis import init_model

    model = init_model(TINY, device='cpu')
    ckpt = str(tmp_path / 'random.pth')
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': {
                'dataset_meta': {
                    'classes': ISPRS_CLASSES,
                    'palette': [list(c) for c in ISPRS_PALETTE],
                }
            },
        },
        ckpt,
    )
    code = '\n'.join(doc_snippets())
    # the tiny ST-UNet and a checkpoint of random weights for the paper
    # config and its trained checkpoint (the same code path, faster)
    code, n = re.subn(r'^config = .*$', f'config = {TINY!r}', code, flags=re.M)
    assert n == 1
    code, n = re.subn(
        r'^checkpoint = .*$', f'checkpoint = {ckpt!r}', code, flags=re.M
    )
    assert n == 1
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, 'docs/inference.md', 'exec'), scope)

    assert scope['classes'].shape == (256, 256)
    assert scope['names'] == ISPRS_CLASSES
    # the array the snippet made from the GeoTIFF window is the PNG as
    # mmcv.imread reads it, so the predictions are the same
    np.testing.assert_array_equal(scope['img'], corner[..., ::-1])
    np.testing.assert_array_equal(scope['window_classes'], scope['classes'])
    preds = scope['inferencer_classes']
    assert len(preds) == 2
    for pred in preds:
        np.testing.assert_array_equal(pred, scope['classes'])
    for sub in ('vis', 'pred'):
        assert os.listdir(tmp_path / 'out' / sub), sub
    # random weights predict nearly one class: compare the scores too
    from mmseg.apis import inference_model

    logits = scope['result'].seg_logits.data
    window = inference_model(scope['model'], scope['img'])
    torch.testing.assert_close(window.seg_logits.data, logits)
    # and the band order matters: RGB-ordered input scores otherwise
    swapped = inference_model(scope['model'], np.ascontiguousarray(corner))
    assert (swapped.seg_logits.data - logits).abs().max() > 1e-3
