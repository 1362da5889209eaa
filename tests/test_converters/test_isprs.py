"""ISPRS converters on tiny fake archives in the distributed layout."""

import glob
import importlib.util
import os
import os.path as osp
import zipfile

import cv2
import numpy as np
import pytest

from mmseg_stunet.converters import isprs as ic
from mmseg_stunet.testing.synthetic_isprs import (
    erode_label,
    write_potsdam_archives,
    write_vaihingen_archives,
)
from mmseg_stunet.utils.paths import project_root
from mmseg_stunet.utils.tiling import window_starts


def convert(*args, **kwargs):
    """The converter on archives that hold a few areas of the split."""
    return ic.convert_isprs(*args, allow_missing=True, **kwargs)


def cli_main(dataset, argv):
    """``main`` of tools/dataset_converters/isprs_cli.py."""
    path = osp.join(
        project_root(), 'tools', 'dataset_converters', 'isprs_cli.py'
    )
    spec = importlib.util.spec_from_file_location('isprs_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(dataset, argv)


H, W, SIZE = 150, 260, 64  # tiles: rows 0 64 86, cols 0 64 128 192 196


@pytest.fixture(scope='module')
def vaihingen_raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp('vaihingen_raw')
    # 1: paper train, 11: paper test, 2: only in MMSegmentation's val list.
    labels = write_vaihingen_archives(
        str(raw), areas=(1, 11, 2), size=(H, W), seed=3
    )
    return str(raw), labels


def tiles(out, sub, split):
    return sorted(
        osp.basename(p) for p in glob.glob(osp.join(out, sub, split, '*.png'))
    )


def test_tile_boxes_cover_the_image_exactly_once_per_stride():
    assert window_starts(150, 64, 64) == [0, 64, 86]
    assert window_starts(40, 64, 64) == [0]
    assert window_starts(256, 256, 256) == [0]
    boxes = ic.tile_boxes(150, 260, 64, 32)
    cover = np.zeros((150, 260), int)
    for x0, y0, x1, y1 in boxes:
        assert (x1 - x0, y1 - y0) == (64, 64)
        cover[y0:y1, x0:x1] += 1
    assert cover.min() >= 1


def test_vaihingen_paper_split_counts_values_and_pixels(
    vaihingen_raw, tmp_path, capsys
):
    raw, labels = vaihingen_raw
    out = str(tmp_path / 'out')
    s = convert('vaihingen', raw, out, size=SIZE)
    per_area = 3 * 5
    assert s.tiles == {'train': per_area, 'val': per_area}
    assert s.not_in_split == [2]
    train = tiles(out, 'img_dir', 'train')
    assert len(train) == per_area and all(
        t.startswith('area1_') for t in train
    )
    assert tiles(out, 'img_dir', 'val')[0].startswith('area11_')
    for sub in ('ann_dir', 'ann_dir_eroded'):
        assert tiles(out, sub, 'train') == train
    assert 'area1_196_86_260_150.png' in train  # edge tile moved back inside
    assert '2/2' in capsys.readouterr().out  # progress bar over 2 areas

    # Labels: value = class + 1; eroded labels have 0 on boundaries.
    full = np.zeros((H, W), np.int64)
    eroded = np.zeros((H, W), np.int64)
    image = np.zeros((H, W, 3), np.uint8)
    for name in train:
        x0, y0, x1, y1 = map(int, name[:-4].split('_')[1:])
        full[y0:y1, x0:x1] = cv2.imread(
            osp.join(out, 'ann_dir', 'train', name), cv2.IMREAD_UNCHANGED
        )
        eroded[y0:y1, x0:x1] = cv2.imread(
            osp.join(out, 'ann_dir_eroded', 'train', name),
            cv2.IMREAD_UNCHANGED,
        )
        image[y0:y1, x0:x1] = cv2.imread(
            osp.join(out, 'img_dir', 'train', name)
        )
    np.testing.assert_array_equal(full, labels[1] + 1)
    np.testing.assert_array_equal(eroded, erode_label(labels[1]) + 1)
    assert eroded.min() == 0 and set(np.unique(full)) <= set(range(1, 7))
    # Image tiles are the raw IRRG file, pixel for pixel.
    with zipfile.ZipFile(
        osp.join(raw, 'ISPRS_semantic_labeling_Vaihingen.zip')
    ) as z:
        raw_img = cv2.imdecode(
            np.frombuffer(z.read('top/top_mosaic_09cm_area1.tif'), np.uint8),
            cv2.IMREAD_UNCHANGED,
        )
    np.testing.assert_array_equal(image, raw_img)


def test_mmseg_split_overlap_stride_and_extracted_folders(
    vaihingen_raw, tmp_path
):
    raw, labels = vaihingen_raw
    folder = tmp_path / 'extracted'
    for z in glob.glob(osp.join(raw, '*.zip')):
        # The GT archives extract next to each other: keep their names.
        with zipfile.ZipFile(z) as zf:
            zf.extractall(folder / osp.basename(z)[:-4])
    out = str(tmp_path / 'out')
    s = convert(
        'vaihingen',
        str(folder),
        out,
        size=SIZE,
        stride=32,
        split='mmseg',
        progress=False,
    )
    n = len(ic.tile_boxes(H, W, SIZE, 32))
    # mmseg: 1 and 11 train, 2 val.
    assert s.tiles == {'train': 2 * n, 'val': n}
    assert all(t.startswith('area2_') for t in tiles(out, 'ann_dir', 'val'))
    # the overlapping tiles stitch back into the areas (area1's tiles are
    # not confused with area11's)
    for area in (1, 11):
        np.testing.assert_array_equal(
            ic.stitch_tiles(osp.join(out, 'ann_dir', 'train'), f'area{area}'),
            labels[area] + 1,
        )
    with pytest.raises(FileNotFoundError, match='no tiles area3_'):
        ic.stitch_tiles(osp.join(out, 'ann_dir', 'train'), 'area3')


def test_potsdam_modalities_and_split(tmp_path):
    raw = str(tmp_path / 'raw')
    labels = write_potsdam_archives(
        raw, tiles=('2_10', '2_13', '7_13'), size=(100, 70), seed=4
    )
    for modality, channels in (('RGB', 3), ('RGBIR', 4)):
        out = str(tmp_path / modality)
        s = convert(
            'potsdam', raw, out, size=SIZE, modality=modality, progress=False
        )
        assert s.tiles == {'train': 4, 'val': 8}  # 2 x 2 tiles per source
        name = '2_10_0_0_64_64.png'
        img = cv2.imread(
            osp.join(out, 'img_dir', 'train', name), cv2.IMREAD_UNCHANGED
        )
        assert img.shape == (64, 64, channels)
        ann = cv2.imread(
            osp.join(out, 'ann_dir', 'train', name), cv2.IMREAD_UNCHANGED
        )
        np.testing.assert_array_equal(ann, labels['2_10'][:64, :64] + 1)
        assert osp.exists(
            osp.join(out, 'ann_dir_eroded', 'val', '7_13_6_36_70_100.png')
        )


def test_unknown_colour_names_file_colour_and_pixel(tmp_path):
    raw = tmp_path / 'raw'
    write_vaihingen_archives(
        str(raw), areas=(1, 3), size=(H, W), seed=5, eroded=False
    )
    folder = tmp_path / 'folder'
    for z in glob.glob(str(raw / '*.zip')):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(folder / osp.basename(z)[:-4])
    bad = glob.glob(str(folder / '*ground_truth*' / '*area3.tif'))[0]
    lab = cv2.imread(bad, cv2.IMREAD_UNCHANGED)
    lab[7, 5] = (56, 34, 12)  # BGR
    cv2.imwrite(bad, lab)
    out = str(tmp_path / 'out')
    with pytest.raises(ic.ConversionError) as e:
        convert('vaihingen', str(folder), out, size=SIZE, progress=False)
    msg = str(e.value)
    assert 'top_mosaic_09cm_area3.tif' in msg
    assert 'RGB(12, 34, 56)' in msg and '(x=5, y=7)' in msg
    # Area 1 came first and is complete; nothing of area 3 was written and
    # no temporary file is left.
    assert len(tiles(out, 'img_dir', 'train')) == 15
    assert not glob.glob(osp.join(out, '*', '*', 'area3_*'))
    assert not glob.glob(osp.join(out, '**', '.*partial'), recursive=True)
    # The command line reports the same error and exits with status 1.
    with pytest.raises(SystemExit) as e:
        cli_main(
            'vaihingen',
            [
                str(folder),
                '-o',
                out,
                '--size',
                str(SIZE),
                '--no-progress',
                '--allow-missing',
            ],
        )
    assert e.value.code == 1


def test_rerun_skips_finished_and_redoes_incomplete(vaihingen_raw, tmp_path):
    raw, _ = vaihingen_raw
    out = str(tmp_path / 'out')
    first = convert('vaihingen', raw, out, size=SIZE, progress=False)
    assert first.converted == [1, 11]
    files = sorted(glob.glob(osp.join(out, '*', '*', '*.png')))
    mtimes = {f: os.stat(f).st_mtime_ns for f in files}
    again = convert('vaihingen', raw, out, size=SIZE, progress=False)
    assert again.converted == [] and again.skipped_finished == [1, 11]
    assert again.tiles == first.tiles
    assert {f: os.stat(f).st_mtime_ns for f in files} == mtimes
    # A lost tile makes its area convert again, and only that area.
    os.remove(osp.join(out, 'ann_dir', 'val', 'area11_0_0_64_64.png'))
    third = convert('vaihingen', raw, out, size=SIZE, progress=False)
    assert third.converted == [11] and third.skipped_finished == [1]
    assert sorted(glob.glob(osp.join(out, '*', '*', '*.png'))) == files
    # Other tiling settings into the same folder are refused up front.
    with pytest.raises(ic.ConversionError, match='settings'):
        convert('vaihingen', raw, out, size=32, progress=False)


def test_nested_zip_and_missing_input(tmp_path):
    raw = tmp_path / 'raw'
    write_potsdam_archives(
        str(raw), tiles=('6_7',), size=(64, 64), seed=6, eroded=False
    )
    outer = tmp_path / 'Potsdam.zip'
    with zipfile.ZipFile(outer, 'w') as zf:
        for z in glob.glob(str(raw / '*.zip')):
            zf.write(z, 'Potsdam/' + osp.basename(z))
    s = convert(
        'potsdam', str(outer), str(tmp_path / 'out'), size=SIZE, progress=False
    )
    assert s.tiles == {'train': 1, 'val': 0}
    with pytest.raises(ic.ConversionError, match='no such file'):
        convert('potsdam', str(tmp_path / 'nope.zip'), str(tmp_path / 'o2'))


def test_folder_names_decide_image_or_label(tmp_path):
    raw = tmp_path / 'gts_user' / 'raw'  # 'gts' above the inputs is no hint
    labels = write_vaihingen_archives(
        str(raw), areas=(5,), size=(64, 64), seed=8, eroded=False
    )
    flat = tmp_path / 'gts_user' / 'flat'
    for z in glob.glob(str(raw / '*.zip')):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(flat / osp.basename(z)[:-4])
    out = str(tmp_path / 'out')
    convert('vaihingen', str(flat), out, size=SIZE, progress=False)
    ann = cv2.imread(
        osp.join(out, 'ann_dir', 'train', 'area5_0_0_64_64.png'),
        cv2.IMREAD_UNCHANGED,
    )
    np.testing.assert_array_equal(ann, labels[5] + 1)
    # Labels extracted into a folder without a ground-truth name look like
    # a second image of the area: refused, not guessed.
    os.rename(
        flat / 'ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE',
        flat / 'labels',
    )
    with pytest.raises(ic.ConversionError, match='two image files'):
        convert(
            'vaihingen',
            str(flat),
            str(tmp_path / 'o2'),
            size=SIZE,
            progress=False,
        )


def test_incomplete_split_is_an_error_unless_allowed(tmp_path, capsys):
    """An area of the split without its label file (or absent) would
    silently change the benchmark: refused, naming the area and what is
    missing; --allow-missing converts the complete areas and says which
    were left out."""
    raw = tmp_path / 'raw'
    write_vaihingen_archives(
        str(raw), areas=(1, 3, 11), size=(64, 64), seed=4, eroded=False
    )
    gt = raw / 'ISPRS_semantic_labeling_Vaihingen_ground_truth_COMPLETE.zip'
    with zipfile.ZipFile(gt) as zf:
        members = [(n, zf.read(n)) for n in zf.namelist() if 'area3.' not in n]
    with zipfile.ZipFile(gt, 'w') as zf:
        for name, data in members:
            zf.writestr(name, data)
    out = str(tmp_path / 'out')
    with pytest.raises(
        ic.ConversionError,
        match=r'incomplete.*area3 lacks label.*no file at '
        r'all for area5, area7',
    ):
        ic.convert_isprs('vaihingen', str(raw), out, progress=False)
    assert not glob.glob(osp.join(out, '*', '*', '*.png'))
    with pytest.raises(SystemExit) as e:
        cli_main('vaihingen', [str(raw), '-o', out, '--no-progress'])
    assert e.value.code == 1
    assert 'area3 lacks label' in capsys.readouterr().err
    s = cli_main(
        'vaihingen', [str(raw), '-o', out, '--no-progress', '--allow-missing']
    )
    assert s.converted == [1, 11] and s.incomplete == {3: ['label']}
    assert 5 in s.absent and 3 not in s.absent
    err = capsys.readouterr().err
    assert 'left out, incomplete' in err and "{3: ['label']}" in err


def test_damaged_archive_is_named(tmp_path):
    raw = tmp_path / 'raw'
    write_vaihingen_archives(str(raw), areas=(1,), size=(64, 64), seed=4)
    top = raw / 'ISPRS_semantic_labeling_Vaihingen.zip'
    data = top.read_bytes()
    top.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(
        ic.ConversionError,
        match=r'ISPRS_semantic_labeling_Vaihingen\.zip: '
        r'cannot be read as a zip \(BadZipFile',
    ):
        convert('vaihingen', str(raw), str(tmp_path / 'out'))
    # a member whose data is damaged (CRC) is named with its archive
    write_vaihingen_archives(str(raw), areas=(1,), size=(64, 64), seed=4)
    data = bytearray(top.read_bytes())
    start = data.index(b'top/top_mosaic_09cm_area1.tif') + 200
    data[start : start + 64] = bytes(64)
    top.write_bytes(bytes(data))
    with pytest.raises(
        ic.ConversionError,
        match=r'Vaihingen\.zip:top/top_mosaic_09cm_area1\.tif'
        r': cannot be read',
    ):
        convert('vaihingen', str(raw), str(tmp_path / 'out'))


@pytest.mark.parametrize(
    'size,stride,message',
    [
        (
            SIZE,
            0,
            r'--stride must be between 1 and --size \(64\), got 0: tiles '
            'need a step',
        ),
        (SIZE, -5, r'--stride must be between 1 and --size \(64\), got -5'),
        (
            SIZE,
            SIZE + 1,
            r'--stride .* got 65: tiles further apart than their '
            'size would leave the pixels between them out',
        ),
        (SIZE, 1000, r'--stride .* got 1000'),
        (0, None, r'--size must be a positive number of pixels, got 0'),
        (-64, 32, r'--size must be a positive number of pixels, got -64'),
    ],
)
def test_tiling_that_cannot_cover_every_pixel_is_refused(
    vaihingen_raw, tmp_path, capsys, size, stride, message
):
    """--stride 0 used to fall back to --size silently, and a stride above
    the size left untiled gaps; both are refused in one line before
    anything is written, by the API and by the command line."""
    raw, _ = vaihingen_raw
    out = tmp_path / 'out'
    with pytest.raises(ic.ConversionError, match=message):
        convert(
            'vaihingen',
            raw,
            str(out),
            size=size,
            stride=stride,
            progress=False,
        )
    argv = [raw, '-o', str(out), '--size', str(size), '--allow-missing']
    if stride is not None:
        argv += ['--stride', str(stride)]
    with pytest.raises(SystemExit) as info:
        cli_main('vaihingen', argv)
    # a number out of range stops at argparse (exit 2), a stride above the
    # size in the converter (exit 1): one error line naming the option
    assert info.value.code in (1, 2)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if 'error:' in ln]
    assert len(lines) == 1, err
    assert '--size' in lines[0] or '--stride' in lines[0], err
    assert 'Traceback' not in err
    assert not out.exists()


def _extracted(raw, folder):
    """The archives of ``raw`` extracted into ``folder`` (one sub-folder
    per zip, so that the label folders keep their ground_truth names)."""
    for z in glob.glob(osp.join(raw, '*.zip')):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(osp.join(folder, osp.basename(z)[:-4]))
    return str(folder)


def test_rerun_with_other_source_files_is_refused(vaihingen_raw, tmp_path):
    """Re-running into the same folder with files of the same names but
    other content (another download, corrected labels) kept the old tiles,
    since only names were checked; now the first changed file is named and
    the output stays as it was. Same content (copied elsewhere, touched)
    is still a re-run that skips finished areas."""
    from helpers import checksums

    raw, _ = vaihingen_raw
    out = str(tmp_path / 'out')
    convert('vaihingen', raw, out, size=SIZE, progress=False)
    before = checksums(out)
    other = str(tmp_path / 'other')
    write_vaihingen_archives(other, areas=(1, 11, 2), size=(H, W), seed=4)
    with pytest.raises(
        ic.ConversionError,
        match=r'_eroded_COMPLETE\.zip:top_mosaic_09cm_area1_'
        r'noBoundary\.tif: not the eroded file that area1 in '
        r'.*out was converted from \(the content differs',
    ):
        convert('vaihingen', other, out, size=SIZE, progress=False)
    assert checksums(out) == before

    # the same archives copied elsewhere: the same content, skipped
    copy = _extracted(raw, tmp_path / 'copy')
    again = convert('vaihingen', copy, out, size=SIZE, progress=False)
    assert again.skipped_finished == [1, 11]

    # extracted files: same content after a touch is fine; an edited
    # label is refused naming it
    plain = str(tmp_path / 'plain')
    convert('vaihingen', copy, plain, size=SIZE, progress=False)
    (label,) = glob.glob(
        osp.join(copy, '*ground_truth_COMPLETE', '*area11.tif')
    )
    os.utime(label, ns=(1, 1))
    assert convert(
        'vaihingen', copy, plain, size=SIZE, progress=False
    ).skipped_finished == [1, 11]
    (other_label,) = glob.glob(
        osp.join(
            _extracted(other, tmp_path / 'other_x'),
            '*ground_truth_COMPLETE',
            '*area11.tif',
        )
    )
    with open(other_label, 'rb') as f:
        data = f.read()
    with open(label, 'wb') as f:
        f.write(data)
    plain_before = checksums(plain)
    with pytest.raises(
        ic.ConversionError,
        match=r'ground_truth_COMPLETE/top_mosaic_09cm_area11'
        r'\.tif: not the label file that area11',
    ):
        convert('vaihingen', copy, plain, size=SIZE, progress=False)
    assert checksums(plain) == plain_before


def test_rerun_adding_a_label_kind_is_refused(tmp_path):
    """Eroded labels given only on the re-run: the finished areas were
    skipped and had no eroded tiles; now refused naming the file."""
    raw = str(tmp_path / 'raw')
    write_vaihingen_archives(
        raw, areas=(1,), size=(H, W), seed=5, eroded=False
    )
    out = str(tmp_path / 'out')
    convert('vaihingen', raw, out, size=SIZE, progress=False)
    write_vaihingen_archives(raw, areas=(1,), size=(H, W), seed=5)
    with pytest.raises(
        ic.ConversionError,
        match=r'area1_noBoundary\.tif: not the eroded file '
        r'that area1 .*has no eroded tiles',
    ):
        convert('vaihingen', raw, out, size=SIZE, progress=False)


def test_image_with_other_bands_than_the_modality_is_refused(tmp_path):
    """An image whose band count is not the data set variant's (an RGB
    file named as RGBIR) stops before any tile is written."""
    raw = tmp_path / 'raw'
    write_potsdam_archives(str(raw), tiles=('2_10',), size=(64, 64), seed=2)
    with zipfile.ZipFile(raw / '2_Ortho_RGB.zip') as zf:
        rgb = zf.read('2_Ortho_RGB/top_potsdam_2_10_RGB.tif')
    (raw / '4_Ortho_RGBIR.zip').unlink()
    (raw / 'top_potsdam_2_10_RGBIR.tif').write_bytes(rgb)
    out = str(tmp_path / 'out')
    with pytest.raises(
        ic.ConversionError,
        match=r'top_potsdam_2_10_RGBIR\.tif: expected the 4 '
        r'bands R, G, B, IR of a potsdam image, got 3',
    ):
        convert(
            'potsdam',
            str(raw),
            out,
            size=SIZE,
            modality='RGBIR',
            progress=False,
        )
    assert tiles(out, 'img_dir', 'train') == []


def test_names_from_before_the_split_still_import():
    """``converters.isprs`` still offers what it offered as one module."""
    from mmseg_stunet.converters import label_colours, sources, state
    from mmseg_stunet.utils import tiling

    assert (
        ic.Source is sources.Source
        and ic.find_sources is sources.find_sources
        and ic.classify is sources.classify
    )
    assert ic.ConversionError is sources.ConversionError
    assert ic.colour_to_index is label_colours.colour_to_index
    assert ic.tile_boxes is tiling.tile_boxes
    assert ic.stitch_tiles is tiling.stitch_tiles
    assert ic.STATE_DIR == state.STATE_DIR == '.isprs_convert'
    assert set(ic.__all__) >= {
        'ConversionError',
        'Source',
        'find_sources',
        'classify',
        'colour_to_index',
        'tile_boxes',
        'stitch_tiles',
        'Summary',
        'convert_isprs',
    }
