"""Data errors name the file: label values past the classes, labels of
another size than their image, empty image folders."""
import os

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS, TRANSFORMS


def _pipeline():
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='CheckSegMap', num_classes=6)
    ]


def _write(root, name, img, ann):
    for sub, arr in (('img_dir', img), ('ann_dir', ann)):
        os.makedirs(root / sub / 'train', exist_ok=True)
        cv2.imwrite(str(root / sub / 'train' / name), arr)


def _dataset(root, dataset='ISPRSVaihingenDataset'):
    return DATASETS.build(
        dict(type=dataset, data_root=str(root),
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             pipeline=_pipeline()))


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
    results = dict(img=np.zeros((8, 8, 3)), gt_seg_map=ann,
                   seg_map_path='x.png', reduce_zero_label=False)
    with pytest.raises(ValueError, match=r'x\.png: label value\(s\) \[9\] '
                       r'are not among the 6 classes: valid are 0..5 and '
                       r'255'):
        check(results)


def test_size_mismatch_names_both_files(tmp_path):
    _write(tmp_path, 'x.png', np.zeros((8, 10, 3), np.uint8),
           np.ones((8, 9), np.uint8))
    with pytest.raises(ValueError,
                       match=r'ann_dir/train/x\.png: label is 9x8 pixels but '
                       r'its image .*img_dir/train/x\.png is 10x8'):
        _dataset(tmp_path)[0]


@pytest.mark.parametrize('dataset',
                         ['ISPRSVaihingenDataset', 'ISPRSPotsdamDataset'])
def test_empty_image_folder_is_named(tmp_path, dataset):
    os.makedirs(tmp_path / 'img_dir' / 'train')
    os.makedirs(tmp_path / 'ann_dir' / 'train')
    with pytest.raises(FileNotFoundError,
                       match=rf'{dataset}: no \*\.png images in '
                       r'.*img_dir/train; check data_root'):
        _dataset(tmp_path, dataset)


def test_transform_repr_and_registry():
    t = TRANSFORMS.build(dict(type='CheckSegMap', num_classes=3))
    assert repr(t) == 'CheckSegMap(num_classes=3, ignore_index=255)'
