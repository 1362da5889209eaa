"""check_outputs: the one check every writing tool makes, that no output
lands on or inside an input (issue 19, data loss)."""

import os
import os.path as osp

import pytest

from mmseg_stunet.utils.paths import UnsafeOutputError, check_outputs


@pytest.fixture
def tree(tmp_path):
    """data/{img_dir,ann_dir}/val/0.png, a checkpoint, a config and a
    symlink to data."""
    for sub in ('img_dir', 'ann_dir'):
        os.makedirs(tmp_path / 'data' / sub / 'val')
        (tmp_path / 'data' / sub / 'val' / '0.png').write_bytes(b'png')
    (tmp_path / 'model.pth').write_bytes(b'weights')
    (tmp_path / 'cfg.py').write_text('x = 1\n')
    os.symlink(tmp_path / 'data', tmp_path / 'link')
    os.link(tmp_path / 'model.pth', tmp_path / 'hard.pth')
    return tmp_path


# (output, input, the words the message must hold): relative to the tree
REFUSED = [
    ('data/ann_dir/val', 'data/ann_dir', 'lies inside'),
    ('data/ann_dir', 'data/ann_dir', ' is '),
    ('data/ann_dir/', 'data/ann_dir', ' is '),  # trailing slash
    ('data/img_dir/val/new', 'data', 'lies inside'),  # not yet existing
    ('data/img_dir/../ann_dir', 'data/ann_dir', ' is '),
    ('link/ann_dir/val', 'data', 'lies inside'),  # through a symlink
    ('model.pth', 'model.pth', ' is '),
    ('hard.pth', 'model.pth', ' is '),  # hard link: one file, two names
    ('cfg.py', 'cfg.py', ' is '),
]


@pytest.mark.parametrize('out,src,words', REFUSED)
def test_output_on_or_inside_an_input_is_refused(tree, out, src, words):
    with pytest.raises(UnsafeOutputError) as info:
        check_outputs(
            {'--out': str(tree / out)},
            {'CONFIG': str(tree / 'cfg.py'), 'INPUT': str(tree / src)},
        )
    text = str(info.value)
    assert '\n' not in text
    assert text.startswith(f'--out {tree / out}') and words in text
    assert f'INPUT {tree / src}' in text or f'CONFIG {tree / src}' in text


ALLOWED = [
    'preds',  # beside the data
    '.',  # a folder that holds the data: nothing in it is overwritten
    'data_preds',  # a name that only starts like the input folder
    'model.onnx',  # beside the checkpoint
]


@pytest.mark.parametrize('out', ALLOWED)
def test_outputs_beside_or_above_inputs_pass(tree, out):
    check_outputs(
        {'--out': str(tree / out), '--work-dir': None},
        [
            ('input', str(tree / 'data')),
            ('input', str(tree / 'model.pth')),
            ('input', None),
        ],
    )


def test_two_outputs_on_one_path(tree):
    dst = str(tree / 'x.pth')
    with pytest.raises(
        UnsafeOutputError, match=r'^DST .*x\.pth and --out-config .* same path'
    ):
        check_outputs([('--out-config', dst), ('DST', dst)], {})
    # folders that may be shared (test.py --work-dir and --out)
    check_outputs([('--out', dst), ('--work-dir', dst)], {}, distinct=False)
    assert not osp.exists(dst)


def test_the_innermost_input_is_named(tree):
    with pytest.raises(
        UnsafeOutputError, match=r'inside seg_map_path .*ann_d'
    ):
        check_outputs(
            {'--out': str(tree / 'data' / 'ann_dir' / 'val')},
            [
                ('data_root', str(tree / 'data')),
                ('seg_map_path', str(tree / 'data' / 'ann_dir')),
                ('img_path', str(tree / 'data' / 'img_dir')),
            ],
        )


# (folders made around a copy of paths.py in <tmp>/root/pkg/utils/, the
# folder project_root() must return, relative to <tmp>/root, or None for
# FileNotFoundError)
LAYOUTS = [
    (['configs', 'pkg/.mim/configs'], '.'),  # checkout (editable) wins
    (['pkg/.mim/configs', 'pkg/.mim/tools'], 'pkg/.mim'),  # pip install .
    (['pkg/.mim'], None),  # a .mim without configs
    ([], None),  # a package built without them
]


@pytest.mark.parametrize('folders,expected', LAYOUTS)
def test_project_root_in_a_checkout_and_an_installed_package(
    tmp_path, folders, expected
):
    import importlib.util
    import shutil

    import mmseg_stunet.utils.paths as paths

    root = tmp_path / 'root'
    os.makedirs(root / 'pkg' / 'utils')
    copy = root / 'pkg' / 'utils' / 'paths.py'
    shutil.copy(paths.__file__, copy)
    for folder in folders:
        os.makedirs(root / folder)
    spec = importlib.util.spec_from_file_location('paths_copy', copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if expected is None:
        with pytest.raises(FileNotFoundError) as info:
            module.project_root()
        assert str(root) in str(info.value)
        assert str(root / 'pkg' / '.mim') in str(info.value)
    else:
        assert module.project_root() == osp.normpath(root / expected)
        assert module.config_path('x.py') == osp.join(
            osp.normpath(root / expected), 'configs', 'x.py'
        )
