"""Bad input stops every tool with one line, not a traceback (issue 19).

Each case runs one tool in a subprocess with one mistake (a broken config,
a bad ``--cfg-options`` item, an unreadable or unsafe checkpoint, an
output path that is a file, an out-of-range number, a missing device, a
signal, a launcher script called without its arguments) and checks:

* the exit status (non-zero; 2 for command-line mistakes that argparse
  reports, 130 / 143 for SIGINT / SIGTERM);
* exactly one line holding ``error:``, naming the culprit (file, option
  or key) with every word of the case's list;
* no ``Traceback`` anywhere in the output;
* no file below the test's folder changed, added or removed (inputs and
  the outputs of earlier runs alike).

Tools stop before building a model wherever the mistake is visible
without one, so each case takes a few seconds (the Python start).
"""

import argparse
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from typing import Dict, List

import pytest
import torch
from helpers import (
    checksums,
    run_tool,
    write_shapes_dataset,
    write_tiny_config,
)

from mmseg_stunet.utils.paths import project_root

pytestmark = pytest.mark.e2e


class _Evil:
    """Pickles as a call of ``os.system``: what a malicious file holds."""

    def __reduce__(self):
        return (os.system, ('true',))


def assert_one_line(
    proc: subprocess.CompletedProcess,
    culprit: List[str],
    root: str,
    before: Dict[str, str],
    status: int = None,
) -> str:
    """The checks of the module docstring; returns the error line."""
    out = proc.stdout
    if status is None:
        assert proc.returncode not in (0, None), out[-3000:]
    else:
        assert proc.returncode == status, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
    errors = [line for line in out.splitlines() if 'error:' in line]
    assert len(errors) == 1, out[-3000:]
    for word in culprit:
        assert word in errors[0], errors[0]
    assert 'weights_only=False' not in out, out[-3000:]
    assert checksums(root) == before
    return errors[0]


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Dict[str, str]:
    """A shapes data set, a config that reads it, a 1-iteration run (its
    work dir and checkpoint) and a gallery of broken files."""
    root = str(tmp_path_factory.mktemp('badinputs'))
    data = write_shapes_dataset(
        osp.join(root, 'data'), splits=(('train', 2), ('val', 2))
    )
    cfg = write_tiny_config(osp.join(root, 'cfg.py'), data)
    work = osp.join(root, 'work')
    run_tool(['tools/train.py', cfg, '--work-dir', work])
    files = {
        'syntax.py': 'model = dict(type="EncoderDecoder"\n',
        'empty.py': '',
        'nameerror.py': 'model = dict(type=undefined_name)\n',
        'nobase.py': "_base_ = ['does_not_exist.py']\n",
        'unknown_type.py': f'_base_ = [{cfg!r}]\n'
        'model = dict(backbone=dict(type="ResNetV1cc"))\n',
        'unbuildable.py': f'_base_ = [{cfg!r}]\n'
        'model = dict(backbone=dict(depth=19))\n',
        'bad_kwarg.py': f'_base_ = [{cfg!r}]\n'
        'model = dict(decode_head=dict(num_convz=1))\n',
        'notes.txt': 'not a checkpoint\n',
        'yaml_cfg.yaml': 'model: [unclosed\n',
    }
    for name, text in files.items():
        with open(osp.join(root, name), 'w') as f:
            f.write(text)
    torch.save([1, 2, 3], osp.join(root, 'list.pth'))
    torch.save({'state_dict': {}, 'hook': _Evil()}, osp.join(root, 'evil.pth'))
    torch.save(
        {'state_dict': {}, 'args': argparse.Namespace(lr=0.1)},
        osp.join(root, 'namespace.pth'),
    )
    ckpt = osp.join(work, 'iter_1.pth')
    with open(ckpt, 'rb') as f:
        blob = f.read()
    with open(osp.join(root, 'truncated.pth'), 'wb') as f:
        f.write(blob[: len(blob) // 2])
    return dict(
        root=root,
        data=data,
        cfg=cfg,
        ckpt=ckpt,
        work=osp.join(root, 'work_new'),
        img=osp.join(data, 'img_dir', 'val', '0.png'),
    )


TRAIN = ['tools/train.py']
TEST = ['tools/test.py']
PREDICT = ['tools/predict.py']
EXPORT = ['tools/export_onnx.py']
VAINF = ['tools/model_converters/vainf2mmseg.py']
VAIHINGEN = ['tools/dataset_converters/vaihingen.py']
POTSDAM = ['tools/dataset_converters/potsdam.py']
DEMO = ['tools/demo.py']
P = ['{img}', '--out-dir', '{root}/pred_new', '--no-progress']  # predict
O = ['--out', '{root}/new.onnx']  # export  # noqa: E741

# (case, command, words the error line must hold, exit status or None)
CASES = [
    # -- the config file ---------------------------------------------------
    (
        'train-config-syntax',
        TRAIN + ['{root}/syntax.py'],
        ['syntax.py', 'line 1'],
        1,
    ),
    (
        'test-config-syntax',
        TEST + ['{root}/syntax.py', '{ckpt}'],
        ['syntax.py'],
        1,
    ),
    (
        'predict-config-syntax',
        PREDICT + ['{root}/syntax.py', '{ckpt}'] + P,
        ['syntax.py'],
        1,
    ),
    (
        'export-config-syntax',
        EXPORT + ['{root}/syntax.py', '{ckpt}'] + O,
        ['syntax.py'],
        1,
    ),
    (
        'train-config-empty',
        TRAIN + ['{root}/empty.py'],
        ['empty.py', 'model'],
        1,
    ),
    (
        'test-config-empty',
        TEST + ['{root}/empty.py', '{ckpt}'],
        ['empty.py', 'model'],
        1,
    ),
    (
        'predict-config-empty',
        PREDICT + ['{root}/empty.py', '{ckpt}'] + P,
        ['empty.py', 'model'],
        1,
    ),
    (
        'train-config-nameerror',
        TRAIN + ['{root}/nameerror.py'],
        ['nameerror.py', 'undefined_name'],
        1,
    ),
    (
        'train-config-missing-base',
        TRAIN + ['{root}/nobase.py'],
        ['does_not_exist.py'],
        1,
    ),
    (
        'train-config-yaml-error',
        TRAIN + ['{root}/yaml_cfg.yaml'],
        ['yaml_cfg.yaml'],
        1,
    ),
    (
        'train-config-unknown-type',
        TRAIN + ['{root}/unknown_type.py'],
        ['ResNetV1cc', 'model.backbone.type', 'ResNetV1c'],
        1,
    ),
    (
        'test-config-unknown-type',
        TEST + ['{root}/unknown_type.py', '{ckpt}'],
        ['ResNetV1cc', 'model.backbone.type'],
        1,
    ),
    (
        'predict-config-unknown-type',
        PREDICT + ['{root}/unknown_type.py', '{ckpt}'] + P,
        ['ResNetV1cc', 'model.backbone.type'],
        1,
    ),
    (
        'export-config-unknown-type',
        EXPORT + ['{root}/unknown_type.py', '{ckpt}'] + O,
        ['ResNetV1cc', 'model.backbone.type'],
        1,
    ),
    (
        'train-config-unbuildable',
        TRAIN + ['{root}/unbuildable.py'],
        ['ResNetV1c', 'invalid depth 19'],
        1,
    ),
    (
        'test-config-bad-kwarg',
        TEST + ['{root}/bad_kwarg.py', '{ckpt}'],
        ['FCNHead', 'num_convz'],
        1,
    ),
    (
        'train-config-is-checkpoint',
        TRAIN + ['{ckpt}'],
        ['iter_1.pth', 'config'],
        1,
    ),
    (
        'test-config-is-checkpoint',
        TEST + ['{ckpt}', '{ckpt}'],
        ['iter_1.pth', 'config'],
        1,
    ),
    (
        'predict-config-is-checkpoint',
        PREDICT + ['{ckpt}', '{ckpt}'] + P,
        ['iter_1.pth', 'config'],
        1,
    ),
    (
        'export-config-is-checkpoint',
        EXPORT + ['{ckpt}', '{ckpt}'] + O,
        ['iter_1.pth', 'config'],
        1,
    ),
    ('train-config-missing', TRAIN + ['{root}/nope.py'], ['nope.py'], 1),
    (
        'predict-config-missing',
        PREDICT + ['{root}/nope.py', '{ckpt}'] + P,
        ['nope.py'],
        1,
    ),
    ('train-config-is-folder', TRAIN + ['{root}'], ['badinputs'], 1),
    # -- --cfg-options ------------------------------------------------------
    (
        'train-cfg-options-no-equals',
        TRAIN + ['{cfg}', '--cfg-options', 'train_cfg.max_iters'],
        ['--cfg-options', 'train_cfg.max_iters', '='],
        2,
    ),
    (
        'predict-cfg-options-no-equals',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--cfg-options', 'foo'],
        ['--cfg-options', 'foo'],
        2,
    ),
    (
        'train-cfg-options-unknown-key',
        TRAIN + ['{cfg}', '--cfg-options', 'train_cfg.max_iter=5'],
        ['train_cfg.max_iter', 'train_cfg.max_iters'],
        1,
    ),
    (
        'train-cfg-options-unknown-top-key',
        TRAIN + ['{cfg}', '--cfg-options', 'max_iters=5'],
        ['max_iters', 'train_cfg.max_iters'],
        1,
    ),
    (
        'test-cfg-options-unknown-kwarg',
        TEST + ['{cfg}', '{ckpt}', '--cfg-options', 'model.backbone.dept=18'],
        ['model.backbone.dept', 'model.backbone.depth'],
        1,
    ),
    (
        'test-cfg-options-unknown-loader-key',
        TEST
        + ['{cfg}', '{ckpt}', '--cfg-options', 'test_dataloader.batchsize=2'],
        ['test_dataloader.batchsize', 'test_dataloader.batch_size'],
        1,
    ),
    (
        'predict-cfg-options-unknown-key',
        PREDICT
        + ['{cfg}', '{ckpt}']
        + P
        + ['--cfg-options', 'model.decode_head.num_class=3'],
        ['model.decode_head.num_class', 'num_classes'],
        1,
    ),
    (
        'export-cfg-options-unknown-key',
        EXPORT
        + ['{cfg}', '{ckpt}']
        + O
        + ['--cfg-options', 'model.backbone.stem_channel=8'],
        ['model.backbone.stem_channel', 'model.backbone.stem_channels'],
        1,
    ),
    (
        'train-cfg-options-wrong-type',
        TRAIN + ['{cfg}', '--cfg-options', 'train_cfg.max_iters=ten'],
        ['train_cfg.max_iters', 'ten', 'number'],
        1,
    ),
    (
        'test-cfg-options-wrong-type',
        TEST
        + [
            '{cfg}',
            '{ckpt}',
            '--cfg-options',
            'model.decode_head.num_classes=three',
        ],
        ['model.decode_head.num_classes', 'three'],
        1,
    ),
    (
        'train-cfg-options-bool-wrong-type',
        TRAIN
        + ['{cfg}', '--cfg-options', 'train_dataloader.sampler.shuffle=1'],
        ['train_dataloader.sampler.shuffle', 'True or False'],
        1,
    ),
    (
        'train-cfg-options-index-out-of-range',
        TRAIN + ['{cfg}', '--cfg-options', 'param_scheduler.3.power=1.0'],
        ['param_scheduler.3', '1 item'],
        1,
    ),
    # -- checkpoints --------------------------------------------------------
    (
        'test-checkpoint-missing',
        TEST + ['{cfg}', '{root}/none.pth'],
        ['none.pth'],
        1,
    ),
    (
        'test-checkpoint-not-a-dict',
        TEST + ['{cfg}', '{root}/list.pth'],
        ['list.pth', 'dict'],
        1,
    ),
    (
        'test-checkpoint-text-file',
        TEST + ['{cfg}', '{root}/notes.txt'],
        ['notes.txt'],
        1,
    ),
    (
        'test-checkpoint-truncated',
        TEST + ['{cfg}', '{root}/truncated.pth'],
        ['truncated.pth', 'truncated'],
        1,
    ),
    (
        'test-checkpoint-evil',
        TEST + ['{cfg}', '{root}/evil.pth'],
        ['evil.pth', 'system', 'refused'],
        1,
    ),
    (
        'test-checkpoint-namespace',
        TEST + ['{cfg}', '{root}/namespace.pth'],
        ['namespace.pth', 'argparse.Namespace'],
        1,
    ),
    (
        'train-resume-missing',
        TRAIN + ['{cfg}', '--resume', '{root}/gone.pth'],
        ['gone.pth'],
        1,
    ),
    (
        'train-resume-not-a-dict',
        TRAIN + ['{cfg}', '--resume', '{root}/list.pth'],
        ['list.pth', 'dict'],
        1,
    ),
    (
        'train-resume-evil',
        TRAIN + ['{cfg}', '--resume', '{root}/evil.pth'],
        ['evil.pth', 'system'],
        1,
    ),
    (
        'train-resume-truncated',
        TRAIN + ['{cfg}', '--resume', '{root}/truncated.pth'],
        ['truncated.pth'],
        1,
    ),
    (
        'predict-checkpoint-not-a-dict',
        PREDICT + ['{cfg}', '{root}/list.pth'] + P,
        ['list.pth', 'dict'],
        1,
    ),
    (
        'predict-checkpoint-evil',
        PREDICT + ['{cfg}', '{root}/evil.pth'] + P,
        ['evil.pth', 'system'],
        1,
    ),
    (
        'export-checkpoint-not-a-dict',
        EXPORT + ['{cfg}', '{root}/list.pth'] + O,
        ['list.pth', 'dict'],
        1,
    ),
    (
        'export-checkpoint-text-file',
        EXPORT + ['{cfg}', '{root}/notes.txt'] + O,
        ['notes.txt'],
        1,
    ),
    (
        'vainf-src-not-a-dict',
        VAINF + ['{root}/list.pth', '{root}/out.pth'],
        ['list.pth'],
        1,
    ),
    (
        'vainf-src-text-file',
        VAINF + ['{root}/notes.txt', '{root}/out.pth'],
        ['notes.txt'],
        1,
    ),
    (
        'vainf-src-evil',
        VAINF + ['{root}/evil.pth', '{root}/out.pth'],
        ['evil.pth', 'system'],
        1,
    ),
    (
        'vainf-src-missing',
        VAINF + ['{root}/none.pth', '{root}/out.pth'],
        ['none.pth'],
        1,
    ),
    # -- devices and output paths ------------------------------------------
    (
        'predict-device-cuda-without-cuda',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--device', 'cuda'],
        ['--device', 'cuda'],
        None,
    ),
    (
        'predict-device-nonsense',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--device', 'gpu0'],
        ['--device', 'gpu0'],
        None,
    ),
    (
        'predict-out-dir-is-file',
        PREDICT + ['{cfg}', '{ckpt}', '{img}', '--out-dir', '{cfg}'],
        ['--out-dir', 'cfg.py', 'file'],
        1,
    ),
    (
        'test-out-is-file',
        TEST + ['{cfg}', '{ckpt}', '--out', '{root}/notes.txt'],
        ['--out', 'notes.txt', 'file'],
        1,
    ),
    (
        'test-show-dir-is-file',
        TEST + ['{cfg}', '{ckpt}', '--show-dir', '{root}/notes.txt'],
        ['--show-dir', 'notes.txt', 'file'],
        1,
    ),
    (
        'test-work-dir-is-file',
        TEST + ['{cfg}', '{ckpt}', '--work-dir', '{root}/notes.txt'],
        ['--work-dir', 'notes.txt', 'file'],
        1,
    ),
    (
        'train-work-dir-is-file',
        TRAIN + ['{cfg}', '--work-dir', '{root}/notes.txt'],
        ['--work-dir', 'notes.txt', 'file'],
        1,
    ),
    (
        'export-out-is-folder',
        EXPORT + ['{cfg}', '{ckpt}', '--out', '{data}'],
        ['--out', 'data', 'folder'],
        1,
    ),
    (
        'vainf-dst-is-folder',
        VAINF + ['{ckpt}', '{data}'],
        ['DST', 'data', 'folder'],
        1,
    ),
    (
        'vaihingen-out-dir-is-file',
        VAIHINGEN + ['{data}', '-o', '{root}/notes.txt', '--no-progress'],
        ['notes.txt', 'file'],
        1,
    ),
    (
        'demo-work-dir-is-file',
        DEMO + ['--work-dir', '{root}/notes.txt'],
        ['--work-dir', 'notes.txt', 'file'],
        1,
    ),
    # -- numbers out of range ----------------------------------------------
    (
        'predict-preview-size-0',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--preview-size', '0'],
        ['--preview-size', '0'],
        2,
    ),
    (
        'predict-batch-size-0',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--batch-size', '0'],
        ['--batch-size', '0'],
        2,
    ),
    (
        'predict-window-0',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--window', '0'],
        ['--window', '0'],
        2,
    ),
    (
        'predict-window-three-values',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--window', '8', '8', '8'],
        ['--window'],
        2,
    ),
    (
        'predict-overlap-negative',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--overlap', '-1'],
        ['--overlap', '-1'],
        2,
    ),
    (
        'predict-opacity-5',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--opacity', '5'],
        ['--opacity', '5'],
        2,
    ),
    (
        'predict-bands-0',
        PREDICT + ['{cfg}', '{ckpt}'] + P + ['--bands', '0'],
        ['--bands', '0'],
        2,
    ),
    (
        'export-shape-0',
        EXPORT + ['{cfg}', '{ckpt}'] + O + ['--shape', '0', '8'],
        ['--shape', '0'],
        2,
    ),
    (
        'export-repeats-0',
        EXPORT + ['{cfg}', '{ckpt}'] + O + ['--repeats', '0'],
        ['--repeats', '0'],
        2,
    ),
    (
        'export-atol-negative',
        EXPORT + ['{cfg}', '{ckpt}'] + O + ['--atol', '-1'],
        ['--atol', '-1'],
        2,
    ),
    (
        'export-check-sizes-0',
        EXPORT + ['{cfg}', '{ckpt}'] + O + ['--check-sizes', '0', '64'],
        ['--check-sizes', '0'],
        2,
    ),
    (
        'vaihingen-size-0',
        VAIHINGEN + ['{data}', '-o', '{root}/t', '--size', '0'],
        ['--size', '0'],
        2,
    ),
    (
        'potsdam-stride-negative',
        POTSDAM + ['{data}', '-o', '{root}/t', '--stride', '-4'],
        ['--stride', '-4'],
        2,
    ),
    (
        'demo-iters-0',
        DEMO + ['--work-dir', '{root}/demo', '--iters', '0'],
        ['--iters', '0'],
        2,
    ),
    (
        'demo-area-size-0',
        DEMO + ['--work-dir', '{root}/demo', '--area-size', '0'],
        ['--area-size', '0'],
        2,
    ),
    (
        'test-wait-time-negative',
        TEST + ['{cfg}', '{ckpt}', '--wait-time', '-1'],
        ['--wait-time', '-1'],
        2,
    ),
]


@pytest.mark.parametrize(
    'command,culprit,status', [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_stops_with_one_line(world, command, culprit, status):
    before = checksums(world['root'])
    args = [a.format(**world) for a in command]
    if (
        args[0] in ('tools/test.py', 'tools/train.py')
        and '--work-dir' not in args
    ):
        args += ['--work-dir', world['work']]
    culprit = [c.format(**world) for c in culprit]
    assert_one_line(
        run_tool(args, check=False, timeout=120),
        culprit,
        world['root'],
        before,
        status,
    )


# -- the launcher scripts ------------------------------------------------------
DIST = [
    ('dist-train-no-args', ['tools/dist_train.sh']),
    ('dist-train-no-nproc', ['tools/dist_train.sh', '{cfg}']),
    ('dist-train-nproc-not-a-number', ['tools/dist_train.sh', '{cfg}', 'x']),
    ('dist-test-no-args', ['tools/dist_test.sh']),
    ('dist-test-no-nproc', ['tools/dist_test.sh', '{cfg}', '{ckpt}']),
    ('dist-test-nproc-0', ['tools/dist_test.sh', '{cfg}', '{ckpt}', '0']),
]


@pytest.mark.parametrize(
    'command', [c[1] for c in DIST], ids=[c[0] for c in DIST]
)
def test_launcher_without_its_arguments_prints_usage(world, command):
    """Usage on stderr, one ``error:`` line, exit 2, before torchrun."""
    before = checksums(world['root'])
    args = [a.format(**world) for a in command]
    proc = subprocess.run(
        ['bash'] + args,
        cwd=project_root(),
        env=dict(os.environ, PYTHON=sys.executable),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    line = assert_one_line(proc, [], world['root'], before, 2)
    assert 'usage:' in proc.stdout.lower(), proc.stdout
    assert 'NPROC' in proc.stdout or 'nproc' in line.lower(), proc.stdout


# -- signals -----------------------------------------------------------------
@pytest.mark.parametrize(
    'sig,status',
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=['SIGINT', 'SIGTERM'],
)
def test_signal_stops_a_tool_with_one_line(world, sig, status):
    """A long training run stopped by Ctrl-C or ``kill``: exit 130 / 143,
    one ``error: interrupted (SIG...)`` line, no traceback, the data set
    and the earlier run untouched."""
    before = checksums(world['root'])
    work = osp.join(str(world['root']) + f'_{sig.name}')
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.Popen(
        [
            sys.executable,
            'tools/train.py',
            world['cfg'],
            '--work-dir',
            work,
            '--cfg-options',
            'train_cfg.max_iters=100000',
        ],
        cwd=project_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as from a terminal: a shell starts background jobs (and so this
        # test, when run with &) with SIGINT ignored, which children inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    deadline = time.time() + 120
    for line in proc.stdout:  # wait until it trains
        lines.append(line)
        if 'Iter(train)' in line or time.time() > deadline:
            break
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    done = subprocess.CompletedProcess(
        proc.args, proc.returncode, ''.join(lines) + rest
    )
    line = assert_one_line(
        done, [f'interrupted ({sig.name})'], world['root'], before, status
    )
    assert line.startswith('error:'), line


# -- MMSegmentation's own tools through mim ------------------------------------
MIM = [
    (
        'mim-test-checkpoint-not-a-dict',
        '{root}/list.pth',
        ['list.pth', 'dict'],
    ),
    ('mim-test-checkpoint-evil', '{root}/evil.pth', ['evil.pth', 'system']),
]


@pytest.mark.parametrize(
    'checkpoint,culprit', [c[1:] for c in MIM], ids=[c[0] for c in MIM]
)
def test_mim_test_stops_with_the_same_line(
    world, tmp_path, checkpoint, culprit
):
    """``mim test mmseg`` runs MMSegmentation's tools/test.py, which imports
    the package through the config's ``custom_imports``: the project's
    errors end that tool in the same one line (the package's excepthook).
    mim itself then raises ``CalledProcessError`` with a traceback of its
    own (mim's behaviour for any failed tool), after that line."""
    before = checksums(world['root'])
    args = [
        '-m',
        'mim',
        'test',
        'mmseg',
        world['cfg'],
        '--checkpoint',
        checkpoint.format(**world),
        '--work-dir',
        str(tmp_path / 'w'),
    ]
    proc = run_tool(args, check=False, timeout=120)
    out = proc.stdout
    tool, _, mim = out.partition('\nTraceback')
    assert 'CalledProcessError' in mim and 'mmseg/.mim/tools/test.py' in mim
    tool = subprocess.CompletedProcess(args, proc.returncode, tool)
    assert_one_line(
        tool, [c.format(**world) for c in culprit], world['root'], before
    )
