"""FLOPs and parameters of a config's model for one input (the figures in
``configs/*/metafile.yaml``); MMSegmentation's ``get_flops.py`` for this
plugin, on CPU.

    python tools/analysis/get_flops.py CONFIG [CONFIG ...] [--shape H W]

Counts with mmengine's ``FlopAnalyzer`` (a traced forward of the model's
``_forward``: the decode head's logits, no loss, no test-time windows) on
one image of ``3 x H x W`` (default: the config's ``crop_size``). One
multiply-add counts as one FLOP, as in mmengine and the OpenMMLab model
zoos: ``FLOPs = sum over layers of MACs``, over the operators mmengine
counts (convolutions, deformable ones included as their ``conv2d`` over
sampled columns; linear layers; matmul/einsum) plus
``scaled_dot_product_attention`` (the Swin windows' attention:
``B * heads * L * S * (E + Ev)`` for queries ``B x heads x L x E``, keys
``S x E``, values ``S x Ev``); element-wise operations, normalisation and
resizing are not counted. Random weights; the count does not depend on them.
"""

import argparse
from typing import Optional, Sequence, Tuple

import mmseg_stunet  # noqa: F401  (registers modules)
from mmseg_stunet.engine.errors import run_tool_main
from mmseg_stunet.utils.cli import positive_int
from mmseg_stunet.utils.notices import silence_known_notices


def complexity(
    config: str, shape: Optional[Tuple[int, int]] = None
) -> Tuple[float, float, Tuple[int, int]]:
    """``(GFLOPs, M params, (H, W))`` of ``config``'s model on one
    ``1 x C x H x W`` input (``C`` its input bands) (``H, W`` the config's ``crop_size`` unless
    given)."""
    import torch
    from mmengine.analysis import FlopAnalyzer, parameter_count
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(config)
    if shape is None:
        shape = tuple(cfg.get('crop_size', (512, 512)))
    cfg.model.pretrained = None
    cfg.model.pop('init_cfg', None)
    model = MODELS.build(cfg.model).eval()
    from mmseg_stunet.apis.inference import model_in_channels

    channels = model_in_channels(model)  # 4 for the RGBIR configs
    with torch.no_grad():
        flops = FlopAnalyzer(model, (torch.zeros(1, channels, *shape),))
        flops.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flops)
        flops.unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        total = flops.total()
    return total / 1e9, parameter_count(model)[''] / 1e6, shape


def _sdpa_flops(inputs: list, outputs: list) -> int:
    """Multiply-adds of ``softmax(q k^T) v``: ``B*heads*L*S*(E + Ev)``."""
    from mmengine.analysis.jit_handles import get_shape

    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = 1
    for size in q[:-2]:
        batch *= size
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs (multiply-adds) and parameters of configs'
    )
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--shape',
        nargs=2,
        type=positive_int,
        metavar=('H', 'W'),
        help="input height and width (default: the config's crop_size)",
    )
    return parser.parse_args(argv)


def main() -> None:
    silence_known_notices()
    args = parse_args()
    for config in args.configs:
        gflops, mparams, (h, w) = complexity(
            config, tuple(args.shape) if args.shape else None
        )
        print(
            f'{config}\t{h}x{w}\t{gflops:.2f} GFLOPs\t{mparams:.2f} M params',
            flush=True,
        )


if __name__ == '__main__':
    run_tool_main(main)
