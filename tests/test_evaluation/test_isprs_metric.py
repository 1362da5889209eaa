"""ISPRSMetric against an independent per-class set computation."""

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

import mmseg_stunet  # noqa: F401
from mmseg_stunet.datasets.isprs import ISPRS_CLASSES, ISPRS_PALETTE
from mmseg_stunet.evaluation import ISPRSMetric

CLASSES = tuple(ISPRS_CLASSES)
PALETTE = [list(c) for c in ISPRS_PALETTE]


def reference_scores(preds, labels, ignore=255, exclude=(5,)):
    """OA, IoU and F1 from per-class pixel sets (no confusion matrix)."""
    p = np.concatenate([a.ravel() for a in preds])
    g = np.concatenate([a.ravel() for a in labels])
    keep = g != ignore
    p, g = p[keep], g[keep]
    iou, f1 = [], []
    for c in range(len(CLASSES)):
        inter = np.sum((p == c) & (g == c))
        union = np.sum((p == c) | (g == c))
        size = np.sum(p == c) + np.sum(g == c)
        iou.append(inter / union if union else np.nan)
        f1.append(2 * inter / size if size else np.nan)
    iou, f1 = np.array(iou), np.array(f1)
    sel = [c for c in range(len(CLASSES)) if c not in exclude]
    return dict(
        OA=100 * np.mean(p == g),
        mIoU=100 * np.nanmean(iou[sel]),
        mF1=100 * np.nanmean(f1[sel]),
        mIoU_all=100 * np.nanmean(iou),
        mF1_all=100 * np.nanmean(f1),
        iou=100 * iou,
        f1=100 * f1,
    )


def make_sample(pred, label, img_path='x/area1_0_0_8_8.png'):
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    s.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
    s.set_metainfo(dict(img_path=img_path, seg_map_path=img_path))
    return s.to_dict()


def run_metric(preds, labels, **kwargs):
    metric = ISPRSMetric(**kwargs)
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    for i, (p, g) in enumerate(zip(preds, labels)):
        metric.process({}, [make_sample(p, g, f'd/t{i}.png')])
    return metric.evaluate(len(preds))


def random_pair(rng, shape, p_correct):
    label = rng.integers(0, 6, shape).astype(np.int64)
    pred = np.where(
        rng.random(shape) < p_correct, label, rng.integers(0, 6, shape)
    )
    return pred, label


def test_matches_independent_reference_over_several_images():
    rng = np.random.default_rng(0)
    pairs = [random_pair(rng, (17, 23), 0.7) for _ in range(4)]
    preds, labels = zip(*pairs)
    # Eroded-style ground truth: a band of ignored boundary pixels.
    labels = list(labels)
    labels[1][5:8] = 255
    got = run_metric(preds, labels)
    ref = reference_scores(preds, labels)
    for k in ('OA', 'mIoU', 'mF1', 'mIoU_all', 'mF1_all'):
        assert got[k] == pytest.approx(ref[k], rel=1e-9), k
    for c, name in enumerate(CLASSES):
        assert got[f'IoU.{name}'] == pytest.approx(ref['iou'][c], rel=1e-9)
        assert got[f'F1.{name}'] == pytest.approx(ref['f1'][c], rel=1e-9)
    # mIoU leaves clutter out, mIoU_all does not.
    assert got['mIoU'] != pytest.approx(got['mIoU_all'])


def test_hand_computed_example():
    # 2x4 image; ground truth / prediction:
    #   0 0 1 1      0 1 1 1
    #   5 5 255 4    5 0 3 4
    label = np.array([[0, 0, 1, 1], [5, 5, 255, 4]])
    pred = np.array([[0, 1, 1, 1], [5, 0, 3, 4]])
    got = run_metric([pred], [label])
    # 7 scored pixels, 5 right.
    assert got['OA'] == pytest.approx(100 * 5 / 7)
    # impervious: tp 1, fp 1, fn 1 -> IoU 1/3, F1 1/2
    assert got['IoU.impervious_surface'] == pytest.approx(100 / 3)
    assert got['F1.impervious_surface'] == pytest.approx(50)
    # building: tp 2, fp 1 -> IoU 2/3, F1 4/5; car perfect; clutter 1/2, 2/3
    assert got['IoU.building'] == pytest.approx(200 / 3)
    assert got['F1.building'] == pytest.approx(80)
    assert got['IoU.car'] == pytest.approx(100)
    assert got['IoU.clutter'] == pytest.approx(50)
    # low vegetation and tree: absent everywhere (the 3 sits on an ignored
    # pixel) -> NaN, left out of the means.
    assert np.isnan(got['IoU.low_vegetation']) and np.isnan(got['IoU.tree'])
    assert got['mIoU'] == pytest.approx((100 / 3 + 200 / 3 + 100) / 3)
    assert got['mIoU_all'] == pytest.approx((100 / 3 + 200 / 3 + 100 + 50) / 4)
    assert got['mF1'] == pytest.approx((50 + 80 + 100) / 3)


def test_ignored_pixels_do_not_count():
    rng = np.random.default_rng(1)
    pred, label = random_pair(rng, (20, 20), 0.6)
    eroded = label.copy()
    eroded[::3] = 255
    a = run_metric([pred], [eroded])
    pred2 = pred.copy()
    pred2[::3] = rng.integers(0, 6, pred2[::3].shape)  # change ignored only
    b = run_metric([pred2], [eroded])
    assert a == b
    c = run_metric([pred[1::3]], [label[1::3]])
    d = run_metric([pred[2::3]], [label[2::3]])
    both = run_metric([pred[1::3], pred[2::3]], [label[1::3], label[2::3]])
    assert both['OA'] == pytest.approx(a['OA'])
    # rows 1::3 and 2::3 hold 7 and 6 of the 20 rows
    assert both['OA'] == pytest.approx((7 * c['OA'] + 6 * d['OA']) / 13)


def test_registered_and_excludes_by_name(tmp_path):
    with DefaultScope.overwrite_default_scope('mmseg'):
        metric = METRICS.build(
            dict(
                type='ISPRSMetric',
                exclude_classes=('car', 'clutter'),
                output_dir=str(tmp_path),
            )
        )
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    rng = np.random.default_rng(2)
    pred, label = random_pair(rng, (9, 11), 0.5)
    metric.process(
        {}, [make_sample(pred, label, 'data/img/area1_0_0_9_11.png')]
    )
    got = metric.evaluate(1)
    ref = reference_scores([pred], [label], exclude=(4, 5))
    assert got['mIoU'] == pytest.approx(ref['mIoU'])
    # The prediction is written as an ISPRS colour PNG named after the image.
    out = cv2.imread(str(tmp_path / 'area1_0_0_9_11.png'))[..., ::-1]
    np.testing.assert_array_equal(out, np.array(PALETTE)[pred])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='shrubs'):
        run_metric(
            [np.zeros((2, 2), np.int64)],
            [np.zeros((2, 2), np.int64)],
            exclude_classes=('shrubs',),
        )
    with pytest.raises(ValueError, match='outside'):
        run_metric([np.zeros((2, 2), np.int64)], [np.full((2, 2), 7)])


def test_unwritten_prediction_is_an_error_naming_the_file(
    tmp_path, monkeypatch
):
    """cv2.imwrite says only False on a full disk; the metric used to go on
    (0-byte or missing PNGs, exit 0)."""
    metric = ISPRSMetric(output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    monkeypatch.setattr(cv2, 'imwrite', lambda *args: False)
    pred = np.zeros((2, 2), np.int64)
    with pytest.raises(OSError, match=r'could not write .*area7_0_0_2_2\.png'):
        metric.process({}, [make_sample(pred, pred, 'd/area7_0_0_2_2.png')])


def logged(monkeypatch):
    """Messages the metric logs, in order."""
    from mmseg_stunet.evaluation.metrics import isprs_metric

    lines = []
    monkeypatch.setattr(
        isprs_metric,
        'print_log',
        lambda msg, *args, **kwargs: lines.append(msg),
    )
    return lines


def confusion(pred, label, ignore=255, n=len(CLASSES)):
    """Rows: ground truth, columns: prediction; ignored pixels left out."""
    keep = label != ignore
    return np.bincount(label[keep] * n + pred[keep], minlength=n * n).reshape(
        n, n
    )


def cm_scores(cm):
    inter = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return 100 * inter.sum() / cm.sum(), 100 * inter / union


def test_overlapping_tiles_score_each_pixel_once(monkeypatch):
    """The converter's tiles overlap (last row/column moved back to the
    border; stride < size). Scored by area, the sums are those of the whole
    area computed directly, not those of the tiles counted each in full."""
    from mmseg_stunet.converters.isprs import tile_boxes
    from mmseg_stunet.utils.tiling import tile_name

    rng = np.random.default_rng(3)
    areas = {'area3': (50, 70, 32, 32), 'area8': (40, 40, 24, 8)}
    whole, samples, tile_cm, n_tile_px = {}, [], 0, 0
    for area, (h, w, size, stride) in areas.items():
        pred, label = random_pair(rng, (h, w), 0.6)
        label[h // 2, : w // 3] = 255  # a few ignored pixels
        whole[area] = confusion(pred, label)
        for x0, y0, x1, y1 in tile_boxes(h, w, size, stride):
            p, g = pred[y0:y1, x0:x1], label[y0:y1, x0:x1]
            tile_cm = tile_cm + confusion(p, g)
            n_tile_px += p.size
            samples.append(
                make_sample(
                    p.copy(),
                    g.copy(),
                    'd/' + tile_name(area, (x0, y0, x1, y1)),
                )
            )
    once = sum(whole.values())
    assert (tile_cm != once).any()  # the input does overlap
    lines = logged(monkeypatch)
    metric = ISPRSMetric()
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    for i in rng.permutation(len(samples)):  # the order does not matter
        metric.process({}, [samples[i]])
    got = metric.evaluate(len(samples))
    oa, iou = cm_scores(once)
    oa_twice, iou_twice = cm_scores(tile_cm)
    assert got['OA'] == pytest.approx(oa, rel=1e-12)
    assert got['OA'] != pytest.approx(oa_twice, rel=1e-6)
    for c, name in enumerate(CLASSES):
        assert got[f'IoU.{name}'] == pytest.approx(iou[c], rel=1e-12)
    overlap = n_tile_px - sum(h * w for h, w, _, _ in areas.values())
    assert lines[0] == (
        f'each pixel of 2 areas scored once; {overlap} '
        'overlapping pixels not double-counted'
    )


def test_untiled_images_are_scored_whole(monkeypatch):
    """Names without a box (or a box of another size than the image) are
    images of their own: nothing is left out."""
    lines = logged(monkeypatch)
    rng = np.random.default_rng(4)
    pairs = [random_pair(rng, (6, 9), 0.5) for _ in range(2)]
    metric = ISPRSMetric()
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    for name, (p, g) in zip(['d/scene.png', 'd/area1_0_0_6_9.png'], pairs):
        metric.process({}, [make_sample(p, g, name)])
    got = metric.evaluate(2)
    ref = reference_scores(*zip(*pairs))
    assert got['OA'] == pytest.approx(ref['OA'])
    assert lines[0] == (
        'each pixel of 2 areas scored once; 0 overlapping '
        'pixels not double-counted'
    )


def test_eroded_ground_truth_is_noted(monkeypatch):
    """A boundary band of ignored pixels (or labels from an eroded folder)
    gives one note that the scores are not full-reference ones; the full
    reference gives none."""
    rng = np.random.default_rng(5)
    pred, label = random_pair(rng, (20, 20), 0.6)
    eroded = label.copy()
    eroded[::5] = 255  # 20 % boundary band
    cases = [
        (label, 'ann_dir/val/area1_0_0_20_20.png', False),
        (eroded, 'ann_dir/val/area1_0_0_20_20.png', True),
        (label, 'ann_dir_eroded/val/area1_0_0_20_20.png', True),
    ]
    for gt, path, noted in cases:
        lines = logged(monkeypatch)
        metric = ISPRSMetric()
        metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
        sample = make_sample(pred, gt, path)
        metric.process({}, [sample])
        metric.evaluate(1)
        notes = [line for line in lines if 'eroded' in line]
        assert len(notes) == noted, (path, lines)
    assert notes[0].startswith('note: the ground truth is eroded (0.0 % ')
    assert 'not comparable with scores on the full reference' in notes[0]
    lines = logged(monkeypatch)
    metric = ISPRSMetric()
    metric.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    metric.process({}, [make_sample(pred, eroded, 'd/a.png')])
    metric.evaluate(1)
    assert any(
        line.startswith(
            'note: the ground truth is eroded (20.0 % of '
            'its pixels are ignore_index 255'
        )
        for line in lines
    )
