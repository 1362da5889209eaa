"""LoveDA converter on tiny archives in the distributed layout: mmseg's
output layout, byte-identical copies, and one-line refusals that write
nothing."""

import importlib.util
import os
import os.path as osp
import zipfile

import cv2
import numpy as np
import pytest

from mmseg_stunet.converters.isprs import ConversionError
from mmseg_stunet.converters.loveda import convert_loveda
from mmseg_stunet.testing.synthetic_loveda import _png, write_loveda_archives
from mmseg_stunet.utils.paths import project_root


def cli_main(argv):
    path = osp.join(project_root(), 'tools', 'dataset_converters', 'loveda.py')
    spec = importlib.util.spec_from_file_location('loveda_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def listing(root, sub, split):
    folder = osp.join(root, sub, split)
    return sorted(os.listdir(folder)) if osp.isdir(folder) else []


def rewrite(zip_path, member, data):
    """Replace (or with ``data`` None, drop) one member of a zip."""
    with zipfile.ZipFile(zip_path) as zf:
        items = [(n, zf.read(n)) for n in zf.namelist()]
    with zipfile.ZipFile(zip_path, 'w') as zf:
        for n, d in items:
            if n != member:
                zf.writestr(n, d)
        if data is not None:
            zf.writestr(member, data)


@pytest.fixture
def raw(tmp_path):
    masks = write_loveda_archives(str(tmp_path / 'raw'), size=32)
    return str(tmp_path / 'raw'), masks


def test_layout_and_byte_identical_copies(raw, tmp_path):
    root, masks = raw
    out = str(tmp_path / 'out')
    s = convert_loveda(root, out, progress=False)
    # 4+4 train, 2+2 val, 1+1 test images (numbered 0..15 across archives)
    assert listing(out, 'img_dir', 'train') == sorted(
        f'{i}.png' for i in range(8)
    )
    assert listing(out, 'ann_dir', 'train') == listing(out, 'img_dir', 'train')
    assert listing(out, 'img_dir', 'val') == sorted(
        f'{i}.png' for i in range(8, 12)
    )
    assert listing(out, 'img_dir', 'test') == ['12.png', '13.png']
    assert listing(out, 'ann_dir', 'test') == []
    assert s.written == dict(train=16, val=8, test=2)
    for name in ('0.png', '5.png'):
        mask = cv2.imread(
            osp.join(out, 'ann_dir', 'train', name), cv2.IMREAD_UNCHANGED
        )
        np.testing.assert_array_equal(mask, masks[name])
    with zipfile.ZipFile(osp.join(root, 'Train.zip')) as zf:
        src = zf.read('Train/Urban/images_png/0.png')
    with open(osp.join(out, 'img_dir', 'train', '0.png'), 'rb') as f:
        assert f.read() == src
    # a re-run finds everything in place; one domain goes elsewhere
    s = convert_loveda(root, out, progress=False)
    assert s.written == {} and s.unchanged == dict(train=16, val=8, test=2)
    with pytest.raises(ConversionError, match='settings'):
        convert_loveda(root, out, domains=['Rural'], progress=False)
    rural = str(tmp_path / 'rural')
    convert_loveda(root, rural, domains=['Rural'], progress=False)
    assert listing(rural, 'img_dir', 'train') == [
        '4.png',
        '5.png',
        '6.png',
        '7.png',
    ]


def test_extracted_folders_convert_the_same(raw, tmp_path):
    root, _ = raw
    ext = tmp_path / 'extracted'
    for name in ('Train', 'Val', 'Test'):
        with zipfile.ZipFile(osp.join(root, f'{name}.zip')) as zf:
            zf.extractall(ext)
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    convert_loveda(root, a, progress=False)
    convert_loveda(
        [str(ext / 'Train'), str(ext / 'Val'), str(ext / 'Test')],
        b,
        progress=False,
    )
    for sub, split in (('img_dir', 'train'), ('ann_dir', 'val')):
        assert listing(a, sub, split) == listing(b, sub, split)


def _bad_mask(size=32):
    mask = np.ones((size, size), np.uint8)
    mask[3, 5] = 9
    return mask


# (what is broken, how, the error's text)
BAD_INPUTS = [
    (
        'mask value past the classes',
        lambda r: rewrite(
            f'{r}/Train.zip', 'Train/Rural/masks_png/5.png', _png(_bad_mask())
        ),
        r'Train\.zip:Train/Rural/masks_png/5\.png: mask value 9 at pixel '
        r'\(x=5, y=3\) is not LoveDA\'s: valid are 0 \(no-data\) and 1\.\.7',
    ),
    (
        'colour mask',
        lambda r: rewrite(
            f'{r}/Val.zip',
            'Val/Urban/masks_png/8.png',
            _png(np.zeros((32, 32, 3), np.uint8)),
        ),
        r'masks_png/8\.png: a LoveDA mask must be 8-bit with one channel',
    ),
    (
        'mask of another size',
        lambda r: rewrite(
            f'{r}/Val.zip',
            'Val/Urban/masks_png/8.png',
            _png(np.ones((32, 30), np.uint8)),
        ),
        r'masks_png/8\.png: mask is 30x32 pixels but its image '
        r'.*images_png/8\.png is 32x32',
    ),
    (
        'image without mask',
        lambda r: rewrite(
            f'{r}/Train.zip', 'Train/Urban/masks_png/1.png', None
        ),
        r'Train/Urban/images_png/1\.png: no mask '
        r'Train/Urban/masks_png/1\.png for it',
    ),
    (
        'one number in both domains',
        lambda r: rewrite(
            f'{r}/Train.zip', 'Train/Rural/images_png/0.png', b'x'
        ),
        r'0\.png is in both .*Rural/images_png/0\.png and '
        r'.*Urban/images_png/0\.png: one Train folder cannot hold both',
    ),
    (
        'missing archive',
        lambda r: os.remove(f'{r}/Val.zip'),
        r'no Val files in .*--allow-missing',
    ),
    (
        'damaged zip',
        lambda r: open(f'{r}/Test.zip', 'wb').write(b'PK\x03\x04broken'),
        r'Test\.zip: cannot be read as a zip',
    ),
]


@pytest.mark.parametrize(
    'what,breaks,message', BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_named_and_nothing_is_written(
    raw, tmp_path, what, breaks, message
):
    root, _ = raw
    breaks(root)
    out = str(tmp_path / 'out')
    with pytest.raises(ConversionError, match=message) as err:
        convert_loveda(root, out, progress=False)
    assert '\n' not in str(err.value)
    assert not osp.exists(osp.join(out, 'img_dir'))


def test_changed_source_and_output_inside_input_are_refused(raw, tmp_path):
    root, _ = raw
    out = str(tmp_path / 'out')
    convert_loveda(root, out, progress=False)
    rewrite(
        f'{root}/Train.zip',
        'Train/Urban/images_png/2.png',
        _png(np.zeros((32, 32, 3), np.uint8)),
    )
    with pytest.raises(
        ConversionError, match=r'images_png/2\.png: differs from .*2\.png'
    ):
        convert_loveda(root, out, progress=False)
    with pytest.raises(ConversionError, match='inside'):
        convert_loveda(root, osp.join(root, 'out'), progress=False)


def test_cli_prints_one_line_errors(raw, tmp_path, capsys):
    root, _ = raw
    out = str(tmp_path / 'out')
    assert cli_main([root, '-o', out, '--no-progress']).written['val'] == 8
    assert f'{out}: wrote' in capsys.readouterr().out
    os.remove(f'{root}/Val.zip')
    with pytest.raises(SystemExit) as e:
        cli_main([root, '-o', str(tmp_path / 'o2'), '--no-progress'])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: no Val files')
