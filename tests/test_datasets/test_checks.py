"""Data errors name the file: label values past the classes, labels of
another size than their image, empty image folders."""

import os

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS, TRANSFORMS


def _pipeline():
    # as the configs write it: the data set adds CheckSegMap itself
    return [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


def _write(root, name, img, ann):
    for sub, arr in (('img_dir', img), ('ann_dir', ann)):
        os.makedirs(root / sub / 'train', exist_ok=True)
        cv2.imwrite(str(root / sub / 'train' / name), arr)


def _dataset(root, dataset='ISPRSVaihingenDataset'):
    return DATASETS.build(
        dict(
            type=dataset,
            data_root=str(root),
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'
            ),
            pipeline=_pipeline(),
        )
    )


def test_valid_labels_pass_and_ignore_is_allowed(tmp_path):
    ann = np.tile(np.arange(7, dtype=np.uint8), (8, 2))  # 0 boundary, 1..6
    _write(tmp_path, 'a.png', np.zeros((8, 14, 3), np.uint8), ann)
    sample = _dataset(tmp_path)[0]
    assert set(np.unique(sample['gt_seg_map'])) == {0, 1, 2, 3, 4, 5, 255}


def test_label_value_past_the_classes_names_file_and_value(tmp_path):
    ann = np.ones((8, 8), np.uint8)
    ann[3, 4] = 9
    _write(tmp_path, 'bad.png', np.zeros((8, 8, 3), np.uint8), ann)
    with pytest.raises(ValueError) as e:
        _dataset(tmp_path)[0]
    msg = str(e.value)
    assert 'ann_dir/train/bad.png' in msg and '[9]' in msg
    assert 'valid are 1..6 (0 is ignored, reduce_zero_label=True)' in msg
    check = TRANSFORMS.build(dict(type='CheckSegMap', num_classes=6))
    results = dict(
        img=np.zeros((8, 8, 3)),
        gt_seg_map=ann,
        seg_map_path='x.png',
        reduce_zero_label=False,
    )
    with pytest.raises(
        ValueError,
        match=r'x\.png: label value\(s\) \[9\] '
        r'are not among the 6 classes: valid are 0..5 and '
        r'255',
    ):
        check(results)


def test_size_mismatch_names_both_files(tmp_path):
    _write(
        tmp_path,
        'x.png',
        np.zeros((8, 10, 3), np.uint8),
        np.ones((8, 9), np.uint8),
    )
    with pytest.raises(
        ValueError,
        match=r'ann_dir/train/x\.png: label is 9x8 pixels but '
        r'its image .*img_dir/train/x\.png is 10x8',
    ):
        _dataset(tmp_path)[0]


@pytest.mark.parametrize(
    'dataset', ['ISPRSVaihingenDataset', 'ISPRSPotsdamDataset']
)
def test_empty_image_folder_is_named(tmp_path, dataset):
    os.makedirs(tmp_path / 'img_dir' / 'train')
    os.makedirs(tmp_path / 'ann_dir' / 'train')
    with pytest.raises(
        FileNotFoundError,
        match=rf'{dataset}: no \*\.png images in '
        r'.*img_dir/train; check data_root',
    ):
        _dataset(tmp_path, dataset)


def test_transform_repr_and_registry():
    t = TRANSFORMS.build(dict(type='CheckSegMap', num_classes=3))
    assert repr(t) == 'CheckSegMap(num_classes=3, ignore_index=255)'


def _scene_tiles(root, labels, size=64):
    """Write the tiles of one area's label map (and blank images)."""
    h, w = labels.shape
    for y in range(0, h, size):
        for x in range(0, w, size):
            _write(
                root,
                f'area1_{x}_{y}_{x + size}_{y + size}.png',
                np.zeros((size, size, 3), np.uint8),
                labels[y : y + size, x : x + size].astype(np.uint8),
            )


def _scene_label(seed=0):
    from mmseg_stunet.testing.synthetic_isprs import make_scene

    _, label = make_scene(192, 192, np.random.default_rng(seed))
    label[label == 5] = 2  # no clutter: no 6 in the ISPRS convention either
    return label


def test_class_index_labels_are_refused_naming_a_file(tmp_path):
    """Labels written as 0..5 read with reduce_zero_label=True lose class 0
    to the ignore index and shift the others; every value stays valid, so
    only the convention check sees it (before: built, silently shifted)."""
    _scene_tiles(tmp_path, _scene_label())
    with pytest.raises(ValueError) as e:
        _dataset(tmp_path)
    msg = str(e.value)
    print(msg)
    assert '\n' not in msg
    assert msg.startswith(str(tmp_path / 'ann_dir' / 'train' / 'area1_'))
    assert 'look like class indices 0..5' in msg
    assert 'set reduce_zero_label=False in the data set' in msg
    # the same labels as 0..5 with reduce_zero_label=False are fine
    ds = DATASETS.build(
        dict(
            type='ISPRSVaihingenDataset',
            data_root=str(tmp_path),
            reduce_zero_label=False,
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'
            ),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=False),
                dict(type='CheckSegMap', num_classes=6),
            ],
        )
    )
    sample = ds[0]
    np.testing.assert_array_equal(
        sample['gt_seg_map'],
        cv2.imread(sample['seg_map_path'], cv2.IMREAD_UNCHANGED),
    )
    # and the check can be turned off
    assert (
        len(
            DATASETS.build(
                dict(
                    type='ISPRSVaihingenDataset',
                    data_root=str(tmp_path),
                    label_check_files=0,
                    data_prefix=dict(
                        img_path='img_dir/train', seg_map_path='ann_dir/train'
                    ),
                )
            )
        )
        == 9
    )


@pytest.mark.parametrize('eroded', [False, True])
def test_isprs_convention_passes_without_clutter(tmp_path, eroded):
    """1..6 labels (0 = the eroded boundary band), even with no clutter (6)
    anywhere, are not taken for class indices."""
    from mmseg_stunet.testing.synthetic_isprs import erode_label

    label = _scene_label() + 1
    if eroded:
        label = erode_label(label - 1, radius=3) + 1
        assert (label == 0).mean() > 0.05
    _scene_tiles(tmp_path, label)
    assert len(_dataset(tmp_path)) == 9


@pytest.mark.parametrize(
    'dataset', ['ISPRSVaihingenDataset', 'ISPRSPotsdamDataset']
)
@pytest.mark.parametrize(
    'listed,check_labels,checks',
    [
        (False, True, 1),  # the configs: added after LoadAnnotations
        (True, True, 1),  # listed by the user: not added twice
        (False, False, 0),  # turned off
    ],
)
def test_label_check_is_added_after_loading_annotations(
    tmp_path, dataset, listed, check_labels, checks
):
    from mmcv.transforms import LoadAnnotations

    from mmseg_stunet.datasets import CheckSegMap

    _write(
        tmp_path,
        'a.png',
        np.zeros((8, 8, 3), np.uint8),
        np.ones((8, 8), np.uint8),
    )
    pipeline = _pipeline() + [dict(type='PackSegInputs')]
    if listed:
        pipeline.insert(2, dict(type='CheckSegMap', num_classes=6))
    ds = DATASETS.build(
        dict(
            type=dataset,
            data_root=str(tmp_path),
            check_labels=check_labels,
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'
            ),
            pipeline=pipeline,
        )
    )
    steps = ds.pipeline.transforms
    found = [i for i, t in enumerate(steps) if isinstance(t, CheckSegMap)]
    assert len(found) == checks
    if checks:
        assert isinstance(steps[found[0] - 1], LoadAnnotations)
        assert (steps[found[0]].num_classes, steps[found[0]].ignore_index) == (
            6,
            255,
        )
    assert len(steps) == 3 + checks


def test_check_passes_samples_without_labels():
    """mmseg's inference drops LoadAnnotations, not a CheckSegMap a
    config lists (was: KeyError 'gt_seg_map')."""
    check = TRANSFORMS.build(dict(type='CheckSegMap', num_classes=6))
    results = dict(img=np.zeros((8, 8, 3), np.uint8), img_path='a.png')
    assert check(results) is results


def test_no_labels_at_inference(tmp_path):
    os.makedirs(tmp_path / 'img_dir' / 'train')
    cv2.imwrite(
        str(tmp_path / 'img_dir' / 'train' / 'a.png'),
        np.zeros((8, 8, 3), np.uint8),
    )
    assert len(_dataset(tmp_path)) == 1


@pytest.mark.parametrize('workers', [0, 2])
def test_unreadable_sample_names_its_files_also_from_a_worker(
    tmp_path, workers
):
    """A truncated image fails in the pipeline, in a data-loader worker as
    in the main process; the tools' one line names the image and the label
    (was: 'Caught UnidentifiedImageError in DataLoader worker process 0.;
    Original Traceback ...', the worker's traceback joined; its file only
    inside it)."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader

    from mmseg_stunet.engine.errors import one_line
    from mmseg_stunet.utils.paths import DataFileError

    ann = np.ones((8, 8), np.uint8)
    _write(tmp_path, 'a.png', np.zeros((8, 8, 3), np.uint8), ann)
    img = tmp_path / 'img_dir' / 'train' / 'a.png'
    img.write_bytes(img.read_bytes()[:40])
    loader = DataLoader(
        _dataset(tmp_path),
        batch_size=1,
        num_workers=workers,
        collate_fn=pseudo_collate,
    )
    with pytest.raises(DataFileError) as e:
        next(iter(loader))
    line = one_line(e.value)
    assert '\n' not in line and 'Traceback' not in line
    assert str(img) in line, line
    if workers:
        assert line.startswith('in data loader worker 0: '), line


def test_worker_traceback_becomes_its_last_line():
    from mmseg_stunet.engine.errors import one_line

    text = (
        'Caught UnidentifiedImageError in DataLoader worker process 3.\n'
        'Original Traceback (most recent call last):\n'
        '  File "x.py", line 1, in f\n'
        'PIL.UnidentifiedImageError: cannot identify image file\n'
    )
    assert one_line(OSError(text)) == (
        'in data loader worker 3: '
        'UnidentifiedImageError: cannot '
        'identify image file'
    )
    assert one_line(ValueError('two\nlines')) == 'two; lines'


@pytest.mark.parametrize('loader', ['train_dataloader', 'test_dataloader'])
def test_the_configs_data_sets_check_labels(tmp_path, loader):
    """The paper config's pipelines list no CheckSegMap (mmseg's inference
    API reuses test_pipeline); its data sets still refuse a bad label."""
    from mmengine.config import Config

    from mmseg_stunet.utils.paths import config_path

    cfg = Config.fromfile(
        config_path('st_unet/st-unet_1xb8-100e_vaihingen-256x256.py')
    )
    dataset = cfg[loader].dataset
    dataset.data_root = str(tmp_path)
    img_dir, ann_dir = (
        dataset.data_prefix[k] for k in ('img_path', 'seg_map_path')
    )
    ann = np.ones((256, 256), np.uint8)
    ann[3, 4] = 9
    for sub, arr in (
        (img_dir, np.zeros((256, 256, 3), np.uint8)),
        (ann_dir, ann),
    ):
        os.makedirs(tmp_path / sub)
        cv2.imwrite(str(tmp_path / sub / 'bad.png'), arr)
    with pytest.raises(
        ValueError,
        match=r'bad\.png: label value\(s\) \[9\] '
        r'in the file are not among the 6 classes',
    ):
        DATASETS.build(dataset)[0]
