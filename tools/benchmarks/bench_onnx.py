"""ONNX export of the project's configs: logit agreement and CPU speed.

    python tools/benchmarks/bench_onnx.py [--configs A.py B.py] [--size 256]
        [--repeats 3]

For each config (default: DeepLabV3+ R-50, DeepLabV3+ R-50-DCN, ST-UNet), the
model gets random weights with BatchNorm statistics calibrated on random
images and small non-zero DCN offsets (a stand-in for a trained checkpoint:
untrained BN statistics let ST-UNet's activations explode), is exported with
dynamic height/width and checked at --size and 1.25 x --size, then exported
with a static --size input and checked there. Prints the largest absolute
logit difference to PyTorch and the median CPU seconds of both.
"""
import argparse
import os.path as osp
import tempfile

import torch
from mmengine.config import Config
from mmseg.apis import init_model

from mmseg_stunet.apis.onnx_export import check_onnx, export_onnx

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = ['deeplabv3plus_r50_vaihingen.py',
           'deeplabv3plus_r50-dcn_vaihingen.py', 'st_unet_vaihingen.py']


def calibrated_model(config: str, size: int):
    torch.manual_seed(0)
    model = init_model(Config.fromfile(config), None, 'cpu')
    for name, param in model.named_parameters():
        if 'conv_offset' in name:
            torch.nn.init.normal_(param, std=0.01)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(2):
            img = torch.rand(2, 3, size, size) * 255
            model.extract_feat(model.data_preprocessor(
                dict(inputs=list(img)), False)['inputs'])
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+',
                        default=[osp.join(ROOT, 'configs', c)
                                 for c in CONFIGS])
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    other = args.size * 5 // 4
    print(f'{"config":<36} {"export":>7} {"size":>9} {"max |diff|":>11} '
          f'{"torch s":>8} {"onnx s":>8} {"speed-up":>8}')
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            model = calibrated_model(config, args.size)
            name = osp.basename(config)
            for dynamic in (True, False):
                path = osp.join(tmp, 'model.onnx')
                wrapper = export_onnx(model, path, 3, (args.size, args.size),
                                      dynamic=dynamic)
                sizes = [(args.size, args.size)]
                if dynamic:
                    sizes.append((other, other))
                for size in sizes:
                    label = 'dynamic' if dynamic else 'static'
                    row = f'{name:<36} {label:>7} {size[0]:>4}x{size[1]:<4}'
                    try:
                        r = check_onnx(wrapper, path, 3, [size],
                                       args.repeats)[size]
                    except RuntimeError as err:
                        print(f'{row} FAILS: {str(err)[:160]}')
                        continue
                    print(f'{row} {r["max_abs_diff"]:>11.2e} '
                          f'{r["torch_s"]:>8.3f} {r["onnx_s"]:>8.3f} '
                          f'{r["torch_s"] / r["onnx_s"]:>7.2f}x')


if __name__ == '__main__':
    main()
