"""The pieces of distributed scene prediction (issue 21): batch-aligned row
bands, sharding, input expansion, the manifest, and one process running a
:class:`BatchPredictor` (band parts merged, resume, --keep-going, VRT)."""

import json
import os
import os.path as osp

import numpy as np
import pytest

rasterio = pytest.importorskip('rasterio')

from helpers import GEO_CRS, GEO_TRANSFORM, build_small
from helpers import write_geotiff as write_tif
from rasterio.transform import from_origin  # noqa: E402

from mmseg_stunet.apis import ScenePredictor  # noqa: E402
from mmseg_stunet.apis.batch_predict import (  # noqa: E402
    BatchPredictor,
    ManifestWriter,
    Unit,
    _BandWriter,
    assign,
    band_splits,
    expand_inputs,
    is_complete,
    merge_parts,
    plan_units,
    read_manifest,
    settings_fingerprint,
)
from mmseg_stunet.apis.raster_io import SceneReader  # noqa: E402
from mmseg_stunet.apis.tiling import scene_tiles  # noqa: E402
from mmseg_stunet.testing import smooth_scene

CRS = GEO_CRS
TRANSFORM = from_origin(*GEO_TRANSFORM)


# -- bands --------------------------------------------------------------------
BANDS = [  # height, width, window, overlap, batch size, bands asked
    (700, 650, (64, 64), (16, 16), 4, 3),
    (700, 650, (64, 64), (16, 16), 4, 50),
    (1000, 130, (100, 100), (20, 20), 3, 4),
    (513, 512, (128, 96), (32, 0), 5, 2),
    (90, 300, (64, 64), (16, 16), 2, 5),  # 2 tile rows
    (40, 40, (64, 64), (16, 16), 4, 3),  # one window
    (1200, 77, (100, 50), (10, 10), 1, 7),
]


@pytest.mark.parametrize('height,width,window,overlap,bs,count', BANDS)
def test_bands_keep_the_single_process_windows_and_batches(
    height, width, window, overlap, bs, count
):
    """Band cores partition the rows; their tiles, taken in order, are the
    scene's tiles; every band starts a batch of the single-process run, so
    each band's batches are batches of the whole scene."""
    bands = band_splits(height, width, window, overlap, bs, count)
    tiles = list(scene_tiles(height, width, window, overlap))
    nrows = len({t.row for t in tiles})
    ncols = len(tiles) // nrows
    assert 1 <= len(bands) <= count
    assert bands[0][0] == 0 and bands[-1][1] == nrows
    assert [b[2] for b in bands] == [0] + [b[3] for b in bands[:-1]]
    assert bands[-1][3] == height
    batches = {tuple(tiles[i : i + bs]) for i in range(0, len(tiles), bs)}
    covered = []
    for t0, t1, r0, r1 in bands:
        assert (t0 * ncols) % bs == 0
        mine = tiles[t0 * ncols : t1 * ncols]
        assert {t.row.core_start for t in mine} >= {r0}
        assert min(t.row.core_start for t in mine) == r0
        assert max(t.row.core_end for t in mine) == r1
        for i in range(0, len(mine), bs):
            assert tuple(mine[i : i + bs]) in batches
        covered += mine
    assert covered == tiles
    # about equal heights (in batch-aligned steps of tile rows)
    step = bs // np.gcd(ncols, bs)
    sizes = [t1 - t0 for t0, t1, _, _ in bands]
    assert max(sizes) - min(sizes) <= 2 * step


def test_plan_splits_only_large_scenes_and_skips_left_out_ones():
    units = plan_units(
        [(100, 100), None, (700, 650)],
        (64, 64),
        (16, 16),
        4,
        band_pixels=200_000,
    )
    assert [(u.scene, u.bands) for u in units] == [
        (0, 1),
        (2, 3),
        (2, 3),
        (2, 3),
    ]
    assert sum(u.pixels for u in units if u.scene == 2) == 700 * 650
    assert units[0].rows == (0, 100) and units[0].pixels == 10_000


@pytest.mark.parametrize(
    'pixels,world',
    [
        ([5, 5, 5, 5], 2),
        ([9, 1, 1, 1, 1, 1], 3),
        ([100], 4),
        ([7, 6, 5, 4, 3, 2, 1], 3),
        (list(range(1, 40)), 5),
    ],
)
def test_longest_first_assignment_is_balanced_and_complete(pixels, world):
    units = [Unit(i, 0, 1, (0, 1), (0, 1), p) for i, p in enumerate(pixels)]
    shares = assign(units, world)
    assert shares == assign(list(reversed(units)), world)  # deterministic
    assert sorted(u for s in shares for u in s) == sorted(units)
    loads = [sum(u.pixels for u in s) for s in shares]
    # LPT: the busiest rank ends at most its last unit after the average
    ideal = max(sum(pixels) / world, max(pixels))
    assert max(loads) <= ideal + min(max(pixels), sum(pixels) / world)
    assert max(loads) <= 4 / 3 * ideal + 1e-9 or max(loads) == max(pixels)


# -- inputs -------------------------------------------------------------------
def test_inputs_from_files_folders_globs_and_lists(tmp_path):
    img = np.zeros((1, 4, 4), np.uint8)
    for rel in (
        'a/1.tif',
        'a/2.tif',
        'a/.hidden.tif',
        'b/c/3.tif',
        'b/4.vrt',
        'x.tif',
    ):
        os.makedirs(osp.dirname(tmp_path / rel), exist_ok=True)
        write_tif(tmp_path / rel, img)
    (tmp_path / 'lists').mkdir()
    (tmp_path / 'lists' / 'l.txt').write_text(
        '# scenes\n\n../x.tif\n../b/**/*.tif\n../a/1.tif\n'
    )
    t = str(tmp_path)
    got = expand_inputs(
        [f'{t}/a', f'{t}/b/*.vrt', f'@{t}/lists/l.txt', f'{t}/x.tif']
    )
    rel = [osp.relpath(osp.normpath(p), t) for p in got]
    assert rel == ['a/1.tif', 'a/2.tif', 'b/4.vrt', 'x.tif', 'b/c/3.tif']


@pytest.mark.parametrize(
    'item,message',
    [
        ('{t}/nope/*.tif', 'no files match the pattern'),
        ('@{t}/missing.txt', 'input list not found'),
        ('@{t}/empty.txt', 'names no inputs'),
        ('{t}/missing.tif', 'input not found'),
    ],
)
def test_inputs_that_give_nothing_are_named(tmp_path, item, message):
    (tmp_path / 'empty.txt').write_text('# nothing\n')
    item = item.format(t=tmp_path)
    with pytest.raises(FileNotFoundError, match=message) as err:
        expand_inputs([item])
    assert item.lstrip('@') in str(err.value)


# -- manifest -----------------------------------------------------------------
def test_manifest_latest_record_wins_and_a_torn_line_is_ignored(tmp_path):
    path = str(tmp_path / 'm.jsonl')
    out = tmp_path / 'a.tif'
    out.write_bytes(b'x')
    writer = ManifestWriter(path)
    writer.write(dict(scene='a', status='failed', outputs=[]))
    writer.write(
        dict(scene='a', status='done', settings='f1', outputs=[str(out)])
    )
    writer.close()
    with open(path, 'a') as f:
        f.write('{"scene": "b", "sta')  # killed mid-line
    records = read_manifest(path)
    assert set(records) == {'a'} and records['a']['status'] == 'done'
    assert is_complete(records['a'], 'f1')
    assert not is_complete(records['a'], 'f2')  # other model or options
    out.unlink()
    assert not is_complete(records['a'], 'f1')  # output gone
    # the next writer ends the torn line first: every line parses again
    ManifestWriter(path).write(dict(scene='c', status='done'))
    with open(path) as f:
        lines = f.read().splitlines()
    assert json.loads(lines[-1])['scene'] == 'c'
    with pytest.raises(ValueError, match=r'm\.jsonl:3: not a manifest'):
        read_manifest(path)


def test_fingerprint_follows_settings_and_file_contents(tmp_path):
    cfg = tmp_path / 'c.py'
    cfg.write_text('a = 1')
    one = settings_fingerprint(dict(window=[64]), [str(cfg)])
    assert one == settings_fingerprint(dict(window=[64]), [str(cfg)])
    assert one != settings_fingerprint(dict(window=[65]), [str(cfg)])
    cfg.write_text('a = 2')
    assert one != settings_fingerprint(dict(window=[64]), [str(cfg)])


# -- one process, in this process ---------------------------------------------
@pytest.fixture(scope='module')
def predictor():
    return ScenePredictor(
        build_small(),
        window=64,
        overlap=16,
        batch_size=4,
        progress=False,
        preview=False,
    )


def read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile, src.colormap(1)


def test_band_parts_merge_to_the_whole_scene_prediction(tmp_path, predictor):
    """Each band predicted into its part and merged gives the class map of
    the scene predicted whole, pixel for pixel, with its profile."""
    scene = write_tif(tmp_path / 's.tif', smooth_scene(300, 260, 3, seed=3))
    for sub in ('whole', 'merged'):
        (tmp_path / sub).mkdir()
    whole = predictor.predict_scene(scene, str(tmp_path / 'whole'))
    parts = []
    for t0, t1, r0, r1 in band_splits(
        300, 260, predictor.window, predictor.overlap, 4, 3
    ):
        part = str(tmp_path / f'part{r0}.tif')
        with _BandWriter(part, 260, (r0, r1)) as writer, SceneReader(
            scene
        ) as reader:
            tiles = predictor.tiles(300, 260)
            ncols = len(tiles) // len({t.row for t in tiles})
            predictor._predict_tiles(
                reader, writer, tiles[t0 * ncols : t1 * ncols]
            )
        parts.append((r0, r1, part))
    assert len(parts) == 3
    merged = merge_parts(predictor, scene, str(tmp_path / 'merged'), parts)
    a, b = read(whole['classes']), read(merged['classes'])
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and a[2] == b[2]
    assert not any(osp.exists(p) for _, _, p in parts)


def test_resume_skips_complete_scenes_and_redoes_other_settings(
    tmp_path, predictor
):
    scenes = [
        write_tif(
            tmp_path / f's{i}.tif', smooth_scene(80 + 10 * i, 90, 3, seed=i)
        )
        for i in range(3)
    ]
    out, manifest = str(tmp_path / 'out'), str(tmp_path / 'm.jsonl')
    first = BatchPredictor(
        predictor, out, 'f1', manifest=manifest, progress=False
    ).run(scenes)
    assert [r['status'] for r in first] == ['done'] * 3
    assert [r['pixels'] for r in first] == [80 * 90, 90 * 90, 100 * 90]
    mtimes = {p: os.stat(p).st_mtime_ns for r in first for p in r['outputs']}
    os.remove(first[1]['outputs'][0])  # lost since: predicted again
    second = BatchPredictor(
        predictor, out, 'f1', manifest=manifest, progress=False
    ).run(scenes)
    assert [r['status'] for r in second] == ['skipped', 'done', 'skipped']
    for r in (second[0], second[2]):
        assert all(os.stat(p).st_mtime_ns == mtimes[p] for p in r['outputs'])
    third = BatchPredictor(
        predictor, out, 'f2', manifest=manifest, progress=False
    ).run(scenes)
    assert [r['status'] for r in third] == ['done'] * 3  # other settings
    with open(manifest) as f:
        assert len(f.read().splitlines()) == 9


def test_keep_going_records_a_bad_scene_and_predicts_the_others(
    tmp_path, predictor
):
    good = write_tif(tmp_path / 'good.tif', smooth_scene(70, 70, 3))
    bad = tmp_path / 'bad.tif'
    bad.write_bytes(b'not a tiff')
    out, manifest = str(tmp_path / 'out'), str(tmp_path / 'm.jsonl')
    with pytest.raises(OSError, match='bad.tif'):
        BatchPredictor(
            predictor, out, 'f', manifest=manifest, progress=False
        ).run([str(bad), good])
    records = BatchPredictor(
        predictor, out, 'f', manifest=manifest, keep_going=True, progress=False
    ).run([str(bad), good])
    assert [(r['status'], bool(r['error'])) for r in records] == [
        ('failed', True),
        ('done', False),
    ]
    assert 'bad.tif' in records[0]['error']
    assert osp.isfile(osp.join(out, 'good.tif'))
    assert not osp.exists(osp.join(out, 'bad.tif'))


def test_a_vrt_mosaic_predicts_as_its_geotiff(tmp_path, predictor):
    """A hand-written VRT placing two tiles side by side gives the class
    map of the same mosaic written as one GeoTIFF."""
    image = smooth_scene(96, 160, 3, seed=5)
    left = write_tif(tmp_path / 'left.tif', image[:, :, :70])
    right_img = image[:, :, 70:]
    write_tif(
        tmp_path / 'right.tif',
        right_img,
        transform=TRANSFORM * TRANSFORM.translation(70, 0),
    )
    mosaic = write_tif(tmp_path / 'mosaic.tif', image)
    bands = ''.join(
        f'''
  <VRTRasterBand dataType="Byte" band="{b}">
    <SimpleSource><SourceFilename relativeToVRT="1">left.tif</SourceFilename>
      <SourceBand>{b}</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="70" ySize="96"/>
      <DstRect xOff="0" yOff="0" xSize="70" ySize="96"/></SimpleSource>
    <SimpleSource><SourceFilename relativeToVRT="1">right.tif</SourceFilename>
      <SourceBand>{b}</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="90" ySize="96"/>
      <DstRect xOff="70" yOff="0" xSize="90" ySize="96"/></SimpleSource>
  </VRTRasterBand>'''
        for b in (1, 2, 3)
    )
    with rasterio.open(left) as src:
        srs = src.crs.to_wkt()
    vrt = tmp_path / 'vrt.vrt'
    vrt.write_text(f"""<VRTDataset rasterXSize="160" rasterYSize="96">
  <SRS>{srs}</SRS>
  <GeoTransform>{', '.join(map(str, TRANSFORM.to_gdal()))}</GeoTransform>
  {bands}
</VRTDataset>""")
    records = BatchPredictor(
        predictor, str(tmp_path / 'out'), 'f', progress=False
    ).run([str(tmp_path / '*.vrt'), mosaic])
    assert [osp.basename(r['scene']) for r in records] == [
        'vrt.vrt',
        'mosaic.tif',
    ]
    a, b = (read(r['outputs'][0]) for r in records)
    np.testing.assert_array_equal(a[0], b[0])
    assert (
        a[1]['transform'] == b[1]['transform'] and a[1]['crs'] == b[1]['crs']
    )


def test_a_silent_rank_stops_the_run_in_one_line(tmp_path, predictor):
    """A rank whose heartbeat stands still for rank_timeout s (killed on
    another node) stops the waiting ranks, and posts why for the others."""
    import time

    from mmseg_stunet.apis.batch_predict import RunAborted

    runner = BatchPredictor(
        predictor, str(tmp_path), 'f', rank_timeout=0.2, progress=False
    )
    beat = runner._check_beat(1, (-1, time.monotonic()))
    runner.store.add('beat/1')  # alive
    beat = runner._check_beat(1, beat)
    time.sleep(0.3)
    with pytest.raises(
        RunAborted,
        match=r'^stopped: rank 1 stopped '
        r'answering \(no heartbeat for 0.2 s\)$',
    ):
        runner._check_beat(1, beat)
    assert runner.store.get('abort').startswith('rank 1 stopped answering')


def test_rank_0_waits_for_working_ranks_not_for_finished_ones(
    tmp_path, predictor
):
    """Rank 1 finished long ago (its heartbeat stopped), rank 2 still works
    (beating): rank 0 waits for rank 2 without taking rank 1 for dead."""
    import threading
    import time

    runner = BatchPredictor(
        predictor, str(tmp_path), 'f', rank_timeout=0.3, progress=False
    )
    runner.world = 3
    runner.store.set('done/1', '1')
    runner.store.add('finished', 2)  # ranks 0 and 1

    def rank_2():
        for _ in range(6):
            runner.store.add('beat/2')
            time.sleep(0.15)
        runner.store.add('finished')

    worker = threading.Thread(target=rank_2)
    worker.start()
    start = time.monotonic()
    runner._wait_for_ranks()
    worker.join()
    assert time.monotonic() - start > 0.6


def test_inputs_of_the_same_name_are_refused_before_anything_runs(
    tmp_path, predictor
):
    for sub in ('a', 'b'):
        (tmp_path / sub).mkdir()
        write_tif(tmp_path / sub / 's.tif', np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r'same name .*a/s\.tif.*b/s\.tif'):
        BatchPredictor(
            predictor, str(tmp_path / 'out'), 'f', progress=False
        ).run([str(tmp_path / '*' / 's.tif')])
    assert not osp.exists(tmp_path / 'out' / 's.tif')


# input form -> out dir: refused (naming the input) or written
OUT_PLACES = [
    ('folder', '{t}/d', '{t}/d/pred', 'input {t}/d'),
    ('folder-trailing-slash', '{t}/d/', '{t}/d/sub/pred', 'input {t}/d/'),
    ('recursive-glob', '{t}/d/**/*.tif', '{t}/d/pred', 'input {t}/d'),
    ('list-file-as-out', '@{t}/l.txt', '{t}/l.txt', 'input {t}/l.txt'),
    ('folder-in-a-list', '@{t}/l.txt', '{t}/d/pred', 'input {t}/d'),
    ('plain-glob', '{t}/d/*.tif', '{t}/d/pred', None),
    ('file', '{t}/d/s.tif', '{t}/d/pred', None),
    ('folder-out-beside', '{t}/d', '{t}/pred', None),
]


@pytest.mark.parametrize('runner', ['scene', 'batch'])
@pytest.mark.parametrize(
    'item,out,culprit',
    [c[1:] for c in OUT_PLACES],
    ids=[c[0] for c in OUT_PLACES],
)
def test_an_output_inside_an_input_folder_is_refused_for_every_input_form(
    tmp_path, predictor, runner, item, out, culprit
):
    """A folder, a recursive pattern's base and a list (and the folders it
    names) are inputs an output must not lie in, whatever form named them
    (predict.py once expanded folders to files first and let --out-dir
    land inside the data set); a plain pattern counts as its files."""
    t = str(tmp_path)
    (tmp_path / 'd').mkdir()
    scene = np.random.default_rng(0).integers(0, 255, (3, 8, 8), np.uint8)
    write_tif(tmp_path / 'd' / 's.tif', scene)
    (tmp_path / 'l.txt').write_text('d\n')
    item, out = item.format(t=t), out.format(t=t)

    def go():
        if runner == 'scene':
            return predictor.predict([item], out)
        return BatchPredictor(predictor, out, 'f', progress=False).run([item])

    if culprit is None:
        go()
        assert osp.isfile(osp.join(out, 's.tif'))
        return
    with pytest.raises(ValueError, match='lies inside|is input') as err:
        go()
    assert culprit.format(t=t) in str(err.value)
    assert sorted(os.listdir(tmp_path / 'd')) == ['s.tif']
    assert not osp.exists(osp.join(out, 's.tif'))
