"""How a trained segmentor behaves on blank tiles and on scenes with nodata
borders, with and without ST-UNet's eval-mode SIM bound.

    python tools/analysis/blank_input.py CONFIG CHECKPOINT DATA_ROOT \
        [--split val] [--borders 32 64 100] [--clips none 20]

DATA_ROOT holds data converted by tools/dataset_converters (``img_dir/`` and
``ann_dir/`` tiles named ``<area>_<x0>_<y0>_<x1>_<y1>.png``); the tiles of
each area are put back together into its scene. Printed per ``sim_clip_z``
value (``none``: the unbounded computation): the largest |logit| on
constant tiles (black, white, grey, the normalisation mean) and whether all
are finite; the whole-scene accuracy; and the accuracy on the valid pixels
of the scenes with a black (0) border of N px along the top and the left,
and with that border filled with the normalisation mean instead (what the
scene predictor does with declared nodata).
"""

from __future__ import annotations  # numpy/torch types in annotations

import argparse
import os
import os.path as osp
import re
from typing import TYPE_CHECKING, List, Tuple

from mmseg_stunet.utils.notices import silence_known_notices

if TYPE_CHECKING:  # imported where used, after parsing (fast --help)
    import numpy as np
    import torch


def scenes(data_root: str, split: str) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(BGR image, label 0..5 or 255) of every area of ``split``."""
    import numpy as np

    from mmseg_stunet.converters.isprs import stitch_tiles

    img_dir = osp.join(data_root, 'img_dir', split)
    ann_dir = osp.join(data_root, 'ann_dir', split)
    names = os.listdir(img_dir) if osp.isdir(img_dir) else []
    areas = sorted(
        {
            name.rsplit('_', 4)[0]
            for name in names
            if re.fullmatch(r'.+(_\d+){4}\.png', name)
        }
    )
    if not areas:
        raise SystemExit(f'error: no converted tiles in {img_dir}')
    # reduce_zero_label: file 0 (boundary) -> 255, 1..6 -> 0..5
    return [
        (
            stitch_tiles(img_dir, area),
            (stitch_tiles(ann_dir, area).astype(np.int64) - 1) % 256,
        )
        for area in areas
    ]


def logits(model: torch.nn.Module, bgr: np.ndarray) -> torch.Tensor:
    import numpy as np
    import torch
    from mmseg.structures import SegDataSample

    x = torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1))).float()
    data = model.data_preprocessor(
        dict(inputs=[x], data_samples=[SegDataSample()]), False
    )
    with torch.no_grad():
        return model.encode_decode(
            data['inputs'], [dict(img_shape=bgr.shape[:2])]
        )


def accuracy(pred: np.ndarray, label: np.ndarray, border: int) -> float:
    pred, label = pred[border:, border:], label[border:, border:]
    keep = label != 255
    return float((pred[keep] == label[keep]).mean())


def main() -> None:
    silence_known_notices()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('data_root')
    parser.add_argument('--split', default='val')
    parser.add_argument(
        '--borders', type=int, nargs='+', default=[32, 64, 100]
    )
    parser.add_argument('--clips', nargs='+', default=['none', '20'])
    args = parser.parse_args()
    import numpy as np  # noqa: F811
    import torch  # noqa: F811

    from mmseg_stunet.apis.inference import (
        init_segmentor,
        model_in_channels,
        neutral_pixel,
    )

    areas = scenes(args.data_root, args.split)
    print(
        f'{len(areas)} scenes of {args.split}, '
        f'{areas[0][0].shape[1]}x{areas[0][0].shape[0]} px'
    )
    for clip in args.clips:
        z = None if clip == 'none' else float(clip)
        model = init_segmentor(
            args.config,
            args.checkpoint,
            'cpu',
            {'model.backbone.sim_clip_z': z},
        )
        fill = neutral_pixel(model, model_in_channels(model))
        tile = np.empty((128, 128, 3), np.float32)
        peaks, finite = [], True
        for colour in ((0, 0, 0), (255, 255, 255), (128, 128, 128), fill):
            tile[:] = colour
            out = logits(model, tile)
            finite &= bool(torch.isfinite(out).all())
            peaks.append(out.abs().max().item())
        whole = np.mean(
            [
                accuracy(logits(model, img).argmax(1)[0].numpy(), lab, 0)
                for img, lab in areas
            ]
        )
        row = [
            f'sim_clip_z={clip}: constant tiles max |logit| '
            f'black {peaks[0]:.3g}, white {peaks[1]:.3g}, grey '
            f'{peaks[2]:.3g}, mean {peaks[3]:.3g}, all finite {finite}; '
            f'accuracy whole {whole:.3f}'
        ]
        for border in args.borders:
            accs = {}
            for name, value in (('black', 0), ('mean fill', fill)):
                scores = []
                for img, lab in areas:
                    img = img.astype(np.float32)
                    img[:border] = value
                    img[:, :border] = value
                    pred = logits(model, img).argmax(1)[0].numpy()
                    scores.append(accuracy(pred, lab, border))
                accs[name] = np.mean(scores)
            row.append(
                f'{border} px border: black {accs["black"]:.3f}, '
                f'mean fill {accs["mean fill"]:.3f}'
            )
        print('\n    '.join(row), flush=True)


if __name__ == '__main__':
    main()
