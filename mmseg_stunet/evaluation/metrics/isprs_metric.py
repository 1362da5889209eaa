"""ISPRS scores: overall accuracy, per-class IoU and F1, mIoU and mF1."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

__all__ = ['ISPRSMetric']


@METRICS.register_module()
class ISPRSMetric(IoUMetric):
    """ISPRS benchmark scores for semantic segmentation.

    MMSegmentation's ``IoUMetric`` (its per-image intersection / union /
    prediction / label areas and its ``mIoU`` and ``mDice`` arithmetic),
    reported the way the ISPRS papers do, in percent: ``OA`` (``aAcc``,
    all labelled pixels), per-class ``IoU.<name>`` and ``F1.<name>`` (F1 is
    the per-class Dice 2|P n G| / (|P| + |G|)), ``mIoU`` and ``mF1`` over the
    classes not in ``exclude_classes`` (the paper's convention: the five
    classes without clutter), and ``mIoU_all`` / ``mF1_all`` over every
    class. A class absent from both prediction and ground truth has NaN
    scores and is left out of the means. Pixels labelled ``ignore_index``
    are not scored, so labels whose boundaries are marked ignore (ISPRS
    eroded ground truth, black -> 0 -> 255 with ``reduce_zero_label``) give
    the eroded-boundary scores.

    Unlike ``IoUMetric`` it refuses label values outside the classes (which
    ``IoUMetric``'s histograms drop silently), naming the label file, and
    ``output_dir`` receives ISPRS colour PNGs rather than index maps; a PNG
    that cannot be written raises ``OSError`` naming it (``cv2.imwrite``
    only returns False).

    Args:
        ignore_index (int): label value that is not scored. Default 255.
        exclude_classes (Sequence[str]): classes left out of mIoU / mF1.
        output_dir (str, optional): also write every prediction there as a
            colour PNG named after its image, in the dataset's ``palette``.
        format_only (bool): only write predictions, compute no scores.
        **kwargs: ignored; takes ``keep_results``, which ``tools/test.py
            --out`` sets for MMSegmentation's ``IoUMetric``.
    """

    default_prefix = ''  # scores are logged as OA, mIoU, ... without a prefix

    def __init__(self,
                 ignore_index: int = 255,
                 exclude_classes: Sequence[str] = ('clutter', ),
                 output_dir: Optional[str] = None,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs):
        super().__init__(ignore_index=ignore_index,
                         iou_metrics=['mIoU', 'mDice'],
                         collect_device=collect_device,
                         output_dir=output_dir,
                         format_only=format_only,
                         prefix=prefix)
        self.exclude_classes = tuple(exclude_classes)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'][0]
            if self.output_dir:
                self._write_colour(pred, sample['img_path'])
            if self.format_only:
                continue
            label = sample['gt_sem_seg']['data'][0].to(pred)
            where = sample.get('seg_map_path')
            if label.shape != pred.shape:
                raise ValueError(
                    f'{where}: label shape {tuple(label.shape)} differs from '
                    f'the prediction {tuple(pred.shape)}')
            scored = label[label != self.ignore_index]
            if scored.numel() and (scored.min() < 0
                                   or scored.max() >= num_classes):
                raise ValueError(
                    f'{where}: label values '
                    f'{sorted(set(scored.unique().tolist()))} outside '
                    f'0..{num_classes - 1} and ignore_index '
                    f'{self.ignore_index}')
            self.results.append(
                self.intersect_and_union(pred, label, num_classes,
                                         self.ignore_index))

    def _write_colour(self, pred: torch.Tensor, img_path: str) -> None:
        palette = np.asarray(self.dataset_meta['palette'], np.uint8)
        rgb = palette[pred.cpu().numpy().astype(np.int64)]
        path = osp.join(self.output_dir,
                        osp.splitext(osp.basename(img_path))[0] + '.png')
        # cv2 reports a full disk or an unwritable folder only by False
        if not cv2.imwrite(path, rgb[..., ::-1]):
            raise OSError(f'could not write {path} (disk full or folder not '
                          'writable?)')

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'predictions written to {self.output_dir}')
            return OrderedDict()
        classes = tuple(self.dataset_meta['classes'])
        unknown = set(self.exclude_classes) - set(classes)
        if unknown:
            raise ValueError(f'exclude_classes {sorted(unknown)} are not '
                             f'among the classes {classes}')
        # per-image areas are exact float32 counts; sum them in float64
        areas = [sum(a.double() for a in area) for area in zip(*results)]
        ret = self.total_area_to_metrics(*areas, metrics=self.metrics)
        iou, f1 = ret['IoU'], ret['Dice']
        keep = np.array([c not in self.exclude_classes for c in classes])

        def mean(v: np.ndarray) -> float:
            return float(np.nanmean(v)) * 100 if np.isfinite(v).any() \
                else float('nan')

        scores = OrderedDict(
            OA=float(ret['aAcc']) * 100,
            mIoU=mean(iou[keep]),
            mF1=mean(f1[keep]),
            mIoU_all=mean(iou),
            mF1_all=mean(f1))
        for name, i, f in zip(classes, iou, f1):
            scores[f'IoU.{name}'] = float(i) * 100
            scores[f'F1.{name}'] = float(f) * 100
        self._log_table(scores, classes, logger)
        return scores

    def _log_table(self, scores: Dict[str, float], classes: Sequence[str],
                   logger: MMLogger) -> None:
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
