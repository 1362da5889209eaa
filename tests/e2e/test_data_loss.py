"""No tool writes over or into what it reads (issue 19, data loss).

Every tool that writes is given an output that is, or lies inside, one of
its inputs: the dataset's own folders, the checkpoint, the config, the
source archives. Each must exit non-zero with one ``error:`` line naming
the option and the path, print no traceback, and leave every file under
the test's folder byte for byte as it was, with nothing added.
``tools/test.py --out`` must moreover never leave a partial prediction
set: a run that fails half-way leaves ``--out`` as it was.
"""

import os
import os.path as osp
import shutil
from typing import Dict, List

import pytest
from helpers import (
    checksums,
    run_tool,
    write_shapes_dataset,
    write_tiny_config,
)

from mmseg_stunet.testing import write_vaihingen_archives

pytestmark = pytest.mark.e2e


def assert_refused(
    proc, culprit: List[str], root: str, before: Dict[str, str]
) -> None:
    """Exit 1, a single ``error:`` line naming every word of ``culprit``,
    no traceback, and no file below ``root`` changed, added or removed."""
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert 'Traceback' not in out, out[-3000:]
    errors = [line for line in out.splitlines() if 'error: ' in line]
    assert len(errors) == 1, out[-3000:]
    for word in culprit:
        assert word in errors[0], errors[0]
    assert checksums(root) == before


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Dict[str, str]:
    """A shapes data set, a config that reads it, a 1-iteration checkpoint
    and synthetic Vaihingen archives, all under one folder."""
    root = str(tmp_path_factory.mktemp('dataloss'))
    data = write_shapes_dataset(
        osp.join(root, 'data'), splits=(('train', 2), ('val', 2))
    )
    cfg = write_tiny_config(osp.join(root, 'cfg.py'), data)
    run_tool(['tools/train.py', cfg, '--work-dir', osp.join(root, 'work')])
    raw = osp.join(root, 'raw')
    write_vaihingen_archives(raw, areas=(1,), size=(64, 64))
    return dict(
        root=root,
        data=data,
        cfg=cfg,
        raw=raw,
        ckpt=osp.join(root, 'work', 'iter_1.pth'),
        work=osp.join(root, 'work2'),
    )


TEST = ['tools/test.py', '{cfg}', '{ckpt}']
VAINF = 'tools/model_converters/vainf2mmseg.py'
# (case, command, words the error line must hold: the option, the path)
REFUSED = [
    (
        'test-out-ann_dir',
        TEST + ['--out', '{data}/ann_dir/val'],
        [
            '--out',
            'ann_dir/val',
            'is test_dataloader.dataset.data_prefix.seg_m',
        ],
    ),
    (
        'test-out-img_dir',
        TEST + ['--out', '{data}/img_dir/val/'],
        [
            '--out',
            'img_dir/val',
            'is test_dataloader.dataset.data_prefix.img_p',
        ],
    ),
    (
        'test-out-new-folder-in-ann_dir',
        TEST + ['--out', '{data}/ann_dir/p'],
        ['--out', 'ann_dir/p', 'lies inside'],
    ),
    ('test-out-data_root', TEST + ['--out', '{data}'], ['--out', 'data_root']),
    (
        'test-out-checkpoint',
        TEST + ['--out', '{ckpt}'],
        ['--out', 'iter_1.pth', 'CHECKPOINT'],
    ),
    (
        'test-show-dir-img_dir',
        TEST + ['--show-dir', '{data}/img_dir'],
        ['--show-dir', 'img_dir'],
    ),
    (
        'test-work-dir-ann_dir',
        TEST + ['--work-dir', '{data}/ann_dir/val'],
        ['--work-dir', 'ann_dir/val'],
    ),
    (
        'export-onnx-out-checkpoint',
        ['tools/export_onnx.py', '{cfg}', '{ckpt}', '--out', '{ckpt}'],
        ['--out', 'iter_1.pth', 'CHECKPOINT'],
    ),
    (
        'export-onnx-out-config',
        ['tools/export_onnx.py', '{cfg}', '{ckpt}', '--out', '{cfg}'],
        ['--out', 'cfg.py', 'CONFIG'],
    ),
    (
        'vainf2mmseg-src-src',
        [VAINF, '{ckpt}', '{ckpt}'],
        ['DST', 'iter_1.pth', 'SRC'],
    ),
    (
        'vainf2mmseg-out-config-is-config',
        [
            VAINF,
            '{ckpt}',
            '{root}/new.pth',
            '--config',
            '{cfg}',
            '--out-config',
            '{cfg}',
        ],
        ['--out-config', 'cfg.py', '--config'],
    ),
    (
        'predict-out-dir-in-input',
        [
            'tools/predict.py',
            '{cfg}',
            '{ckpt}',
            '{data}/img_dir/val',
            '--out-dir',
            '{data}/img_dir/val/pred',
            '--no-progress',
        ],
        ['out_dir', 'img_dir/val/pred', 'lies inside'],
    ),
    (
        'vaihingen-o-in-input',
        [
            'tools/dataset_converters/vaihingen.py',
            '{raw}',
            '-o',
            '{raw}/tiles',
            '--allow-missing',
            '--no-progress',
        ],
        ['out_dir (-o)', 'raw/tiles', 'lies inside'],
    ),
    (
        'potsdam-o-is-input',
        [
            'tools/dataset_converters/potsdam.py',
            '{raw}',
            '-o',
            '{raw}/',
            '--no-progress',
        ],
        ['out_dir (-o)', 'raw'],
    ),
]


@pytest.mark.parametrize(
    'command,culprit', [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_output_on_or_inside_an_input_is_refused(world, command, culprit):
    before = checksums(world['root'])
    args = [a.format(**world) for a in command]
    if args[0] == 'tools/test.py' and '--work-dir' not in args:
        args += ['--work-dir', world['work']]
    assert_refused(run_tool(args, check=False), culprit, world['root'], before)


def test_unwritable_out_is_refused_before_running(world):
    """``--out`` under a file (as a read-only or vanished folder) fails in
    one line before the model runs; nothing is created."""
    before = checksums(world['root'])
    out = osp.join(world['ckpt'], 'preds')
    proc = run_tool(
        TEST[:1]
        + [
            world['cfg'],
            world['ckpt'],
            '--out',
            out,
            '--work-dir',
            world['work'],
        ],
        check=False,
    )
    assert_refused(proc, ['--out', out], world['root'], before)
    assert 'Iter(test)' not in proc.stdout


def test_out_holds_a_whole_prediction_set_or_stays_as_it_was(world):
    """A run that fails half-way (an unreadable second image) leaves a new
    ``--out`` absent and an existing one unchanged, and no hidden partial
    folder; a run that succeeds fills ``--out`` completely."""
    root, data = world['root'], world['data']
    out = osp.join(root, 'preds')
    run_tool(
        TEST[:1]
        + [
            world['cfg'],
            world['ckpt'],
            '--out',
            out,
            '--work-dir',
            world['work'],
        ]
    )
    assert sorted(os.listdir(out)) == ['0.png', '1.png']
    assert all(osp.getsize(osp.join(out, n)) for n in os.listdir(out))
    assert not [n for n in os.listdir(root) if '.partial' in n]

    broken = osp.join(root, 'broken')
    shutil.copytree(data, broken)
    with open(osp.join(broken, 'img_dir', 'val', '1.png'), 'wb') as f:
        f.write(b'not a png')
    earlier = checksums(out)
    for target in (out, osp.join(root, 'preds_new')):
        proc = run_tool(
            TEST[:1]
            + [
                world['cfg'],
                world['ckpt'],
                '--out',
                target,
                '--work-dir',
                world['work'],
                '--cfg-options',
                f'test_dataloader.dataset.data_root={broken}',
            ],
            check=False,
        )
        assert proc.returncode != 0, proc.stdout[-3000:]
    assert checksums(out) == earlier
    assert not osp.exists(osp.join(root, 'preds_new'))
    assert not [n for n in os.listdir(root) if '.partial' in n]
    shutil.rmtree(broken)
