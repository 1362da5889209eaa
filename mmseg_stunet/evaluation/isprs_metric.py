"""ISPRS scores: overall accuracy, per-class IoU and F1, mIoU and mF1."""
import os
import os.path as osp
from collections import OrderedDict

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS


def confusion_matrix(pred, label, num_classes, ignore_index=255):
    """(num_classes, num_classes) int64 counts, rows = ground truth, columns
    = prediction, over the pixels whose label is not ``ignore_index``."""
    valid = label != ignore_index
    label, pred = label[valid].long(), pred[valid].long()
    if label.numel() and (label.min() < 0 or label.max() >= num_classes):
        raise ValueError(
            f'label values {sorted(set(label.unique().tolist()))} outside '
            f'0..{num_classes - 1} and ignore_index {ignore_index}')
    return torch.bincount(
        label * num_classes + pred,
        minlength=num_classes**2).reshape(num_classes, num_classes)


def isprs_scores(cm, class_names, exclude=('clutter', )):
    """Scores in percent from a confusion matrix (rows = ground truth).

    Returns:
        OrderedDict: ``OA`` over all labelled pixels; ``mIoU`` / ``mF1``
        averaged over the classes not in ``exclude`` (He et al.: clutter
        left out); ``mIoU_all`` / ``mF1_all`` over every class;
        ``IoU.<class>`` and ``F1.<class>``. A class absent from both
        prediction and ground truth has NaN scores and is left out of the
        means.
    """
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = tp / (tp + fp + fn)
        f1 = 2 * tp / (2 * tp + fp + fn)
        oa = tp.sum() / cm.sum()
    keep = np.array([c not in exclude for c in class_names])
    unknown = set(exclude) - set(class_names)
    if unknown:
        raise ValueError(f'exclude_classes {sorted(unknown)} are not among '
                         f'the classes {tuple(class_names)}')

    def mean(v):
        return float(np.nanmean(v)) * 100 if np.isfinite(v).any() else np.nan

    out = OrderedDict(
        OA=float(oa) * 100,
        mIoU=mean(iou[keep]),
        mF1=mean(f1[keep]),
        mIoU_all=mean(iou),
        mF1_all=mean(f1))
    for name, i, f in zip(class_names, iou, f1):
        out[f'IoU.{name}'] = float(i) * 100
        out[f'F1.{name}'] = float(f) * 100
    return out


@METRICS.register_module()
class ISPRSMetric(BaseMetric):
    """ISPRS benchmark scores for semantic segmentation.

    Accumulates one confusion matrix over the test set and reports ``OA``
    (all labelled pixels), ``mIoU`` and ``mF1`` over the classes not in
    ``exclude_classes`` (the paper's convention: the five classes without
    clutter), ``mIoU_all`` / ``mF1_all`` over all classes, and per-class
    ``IoU.<name>`` / ``F1.<name>``, all in percent. Pixels labelled
    ``ignore_index`` are left out, so labels whose boundaries are marked
    ignore (ISPRS eroded ground truth, black -> 0 -> 255 with
    ``reduce_zero_label``) give the eroded-boundary scores.

    Args:
        ignore_index (int): label value that is not scored. Default 255.
        exclude_classes (Sequence[str]): classes left out of mIoU / mF1.
        output_dir (str, optional): also write every prediction there as an
            ISPRS colour PNG named after its image. Needs the dataset's
            ``palette``.
        format_only (bool): only write predictions, compute no scores.
        **kwargs: ignored; takes ``keep_results``, which ``tools/test.py
            --out`` sets for MMSegmentation's ``IoUMetric``.
    """

    def __init__(self,
                 ignore_index=255,
                 exclude_classes=('clutter', ),
                 output_dir=None,
                 format_only=False,
                 collect_device='cpu',
                 prefix=None,
                 **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.exclude_classes = tuple(exclude_classes)
        self.output_dir = output_dir
        self.format_only = format_only
        if output_dir:
            os.makedirs(output_dir, exist_ok=True)

    def process(self, data_batch, data_samples):
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            if self.output_dir:
                self._write_colour(pred, sample['img_path'])
            if self.format_only:
                continue
            label = sample['gt_sem_seg']['data'].squeeze(0).to(pred)
            if label.shape != pred.shape:
                raise ValueError(
                    f'{sample.get("seg_map_path")}: label shape '
                    f'{tuple(label.shape)} differs from the prediction '
                    f'{tuple(pred.shape)}')
            self.results.append(
                confusion_matrix(pred, label, num_classes,
                                 self.ignore_index).cpu().numpy())

    def _write_colour(self, pred, img_path):
        palette = np.asarray(self.dataset_meta['palette'], np.uint8)
        rgb = palette[pred.cpu().numpy().astype(np.int64)]
        name = osp.splitext(osp.basename(img_path))[0] + '.png'
        cv2.imwrite(osp.join(self.output_dir, name), rgb[..., ::-1])

    def compute_metrics(self, results):
        logger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'predictions written to {self.output_dir}')
            return OrderedDict()
        classes = self.dataset_meta['classes']
        scores = isprs_scores(sum(results), classes, self.exclude_classes)
        self._log_table(scores, classes, logger)
        return scores

    def _log_table(self, scores, classes, logger):
        rows = [f'{"class":<22}{"IoU":>8}{"F1":>8}']
        for c in classes:
            mark = ' (excluded from mIoU/mF1)' if c in self.exclude_classes \
                else ''
            rows.append(f'{c:<22}{scores["IoU." + c]:>8.2f}'
                        f'{scores["F1." + c]:>8.2f}{mark}')
        rows.append(f'OA {scores["OA"]:.2f}  mIoU {scores["mIoU"]:.2f}  '
                    f'mF1 {scores["mF1"]:.2f}  mIoU_all '
                    f'{scores["mIoU_all"]:.2f}  mF1_all '
                    f'{scores["mF1_all"]:.2f}')
        print_log('per-class results:\n' + '\n'.join(rows), logger)
