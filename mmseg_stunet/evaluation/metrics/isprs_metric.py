"""ISPRS scores: overall accuracy, per-class IoU and F1, mIoU and mF1."""

import logging
import os.path as osp
import re
import zlib
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ...utils.tiling import parse_tile_name

__all__ = ['ISPRSMetric', 'ERODED_FRACTION']

#: share of ignored ground-truth pixels from which the ground truth is
#: reported as eroded (the full ISPRS references have none; the eroded ones
#: lose a boundary band of several percent)
ERODED_FRACTION = 0.01
#: label paths that name eroded ground truth (the converters' folders/files)
_ERODED_PATH = re.compile(r'eroded|noBoundary', re.IGNORECASE)


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

    **Each pixel once.** Tiles named after their box within their area
    (``<area>_<x0>_<y0>_<x1>_<y1>.png``, as this project's and
    MMSegmentation's converters write them) are scored by area: the tiles
    of an area are taken in raster order of their boxes (top to bottom,
    then left to right) and each one adds only the pixels that no earlier
    tile covered (its ownership mask), so the converter's last row and
    column of tiles, moved back to end at the border, and tiles with a
    stride smaller than their size do not count the overlap twice. The
    sums are then those of the area stitched with each pixel's prediction
    taken from the first tile that holds it (overlapping tiles share the
    ground truth; their predictions may differ at tile borders), whatever
    the order of the data loader or the number of processes. Any other image is scored
    whole. The log says ``each pixel of N areas scored once; M overlapping
    pixels not double-counted``. Ground truth with at least
    :data:`ERODED_FRACTION` of ignored pixels, or from a folder or file
    named ``*eroded*`` / ``*noBoundary*``, is reported as eroded: its
    scores are not comparable with scores on the full reference.

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

    def __init__(
        self,
        ignore_index: int = 255,
        exclude_classes: Sequence[str] = ('clutter',),
        output_dir: Optional[str] = None,
        format_only: bool = False,
        collect_device: str = 'cpu',
        prefix: Optional[str] = None,
        **kwargs,
    ):
        super().__init__(
            ignore_index=ignore_index,
            iou_metrics=['mIoU', 'mDice'],
            collect_device=collect_device,
            output_dir=output_dir,
            format_only=format_only,
            prefix=prefix,
        )
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
                    f'the prediction {tuple(pred.shape)}'
                )
            scored = label[label != self.ignore_index]
            if scored.numel() and (
                scored.min() < 0 or scored.max() >= num_classes
            ):
                raise ValueError(
                    f'{where}: label values '
                    f'{sorted(set(scored.unique().tolist()))} outside '
                    f'0..{num_classes - 1} and ignore_index '
                    f'{self.ignore_index}'
                )
            eroded = bool(_ERODED_PATH.search(str(where or '')))
            tile = parse_tile_name(sample['img_path'])
            if (
                tile is not None
                and (tile[1][3] - tile[1][1], tile[1][2] - tile[1][0])
                == pred.shape
            ):
                # kept (compressed) until every tile of the area is known
                area = (osp.dirname(sample['img_path']), tile[0])
                self.results.append(
                    dict(
                        area=area,
                        box=tile[1],
                        eroded=eroded,
                        **self._pack(pred, label),
                    )
                )
            else:
                self.results.append(
                    dict(
                        area=None,
                        eroded=eroded,
                        areas=self.intersect_and_union(
                            pred, label, num_classes, self.ignore_index
                        ),
                        ignored=int((label == self.ignore_index).sum()),
                        pixels=label.numel(),
                    )
                )

    @staticmethod
    def _pack(pred: torch.Tensor, label: torch.Tensor) -> dict:
        """Prediction and label of a tile as zlib-compressed bytes (class
        maps compress tens of times; an overlapping tile set is held until
        the end of the evaluation)."""
        both = torch.stack([pred, label]).cpu().numpy()
        small = both.min() >= 0 and both.max() <= 255
        both = both.astype(np.uint8 if small else np.int64)
        return dict(
            maps=zlib.compress(both.tobytes(), 1), dtype=both.dtype.str
        )

    @staticmethod
    def _unpack(result: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        x0, y0, x1, y1 = result['box']
        both = np.frombuffer(
            zlib.decompress(result['maps']), result['dtype']
        ).reshape(2, y1 - y0, x1 - x0)
        both = torch.from_numpy(both.astype(np.int64))
        return both[0], both[1]

    def score_once(
        self, results: List[dict], num_classes: int
    ) -> Tuple[List[torch.Tensor], Dict[str, int]]:
        """Sum the per-class areas (intersection, union, prediction, label;
        ``IoUMetric.intersect_and_union``) over all images, counting each
        pixel of a tiled area once.

        Returns:
            tuple: the four float64 area vectors and counts: ``areas``
            (tiled areas and whole images), ``overlap`` (tile pixels left
            out because an earlier tile of the area had them), ``pixels``
            and ``ignored`` (ground-truth pixels scored / equal to
            ``ignore_index``), ``eroded_paths`` (labels named eroded).
        """
        total = [
            torch.zeros(num_classes, dtype=torch.float64) for _ in range(4)
        ]
        counts = dict(areas=0, overlap=0, pixels=0, ignored=0, eroded_paths=0)

        def add(areas: Sequence[torch.Tensor]) -> None:
            for t, a in zip(total, areas):
                t += a.double()

        by_area = defaultdict(list)
        for r in results:
            counts['eroded_paths'] += r['eroded']
            if r['area'] is None:
                add(r['areas'])
                counts['areas'] += 1
                counts['pixels'] += r['pixels']
                counts['ignored'] += r['ignored']
            else:
                by_area[r['area']].append(r)
        for tiles in by_area.values():
            tiles.sort(key=lambda r: (r['box'][1], r['box'][0]))
            covered = np.zeros(
                (
                    max(r['box'][3] for r in tiles),
                    max(r['box'][2] for r in tiles),
                ),
                bool,
            )
            for r in tiles:
                x0, y0, x1, y1 = r['box']
                owned = torch.from_numpy(~covered[y0:y1, x0:x1])
                covered[y0:y1, x0:x1] = True
                pred, label = self._unpack(r)
                pred, label = pred[owned], label[owned]
                add(
                    self.intersect_and_union(
                        pred, label, num_classes, self.ignore_index
                    )
                )
                counts['overlap'] += owned.numel() - label.numel()
                counts['pixels'] += label.numel()
                counts['ignored'] += int((label == self.ignore_index).sum())
            counts['areas'] += 1
        return total, counts

    def _write_colour(self, pred: torch.Tensor, img_path: str) -> None:
        palette = np.asarray(self.dataset_meta['palette'], np.uint8)
        rgb = palette[pred.cpu().numpy().astype(np.int64)]
        path = osp.join(
            self.output_dir, osp.splitext(osp.basename(img_path))[0] + '.png'
        )
        # cv2 reports a full disk or an unwritable folder only by False
        if not cv2.imwrite(path, rgb[..., ::-1]):
            raise OSError(
                f'could not write {path} (disk full or folder not writable?)'
            )

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'predictions written to {self.output_dir}')
            return OrderedDict()
        classes = tuple(self.dataset_meta['classes'])
        unknown = set(self.exclude_classes) - set(classes)
        if unknown:
            raise ValueError(
                f'exclude_classes {sorted(unknown)} are not '
                f'among the classes {classes}'
            )
        # per-image areas are exact float32 counts; summed in float64
        areas, counts = self.score_once(results, len(classes))
        self._log_protocol(counts, logger)
        ret = self.total_area_to_metrics(*areas, metrics=self.metrics)
        iou, f1 = ret['IoU'], ret['Dice']
        keep = np.array([c not in self.exclude_classes for c in classes])

        def mean(v: np.ndarray) -> float:
            return (
                float(np.nanmean(v)) * 100
                if np.isfinite(v).any()
                else float('nan')
            )

        scores = OrderedDict(
            OA=float(ret['aAcc']) * 100,
            mIoU=mean(iou[keep]),
            mF1=mean(f1[keep]),
            mIoU_all=mean(iou),
            mF1_all=mean(f1),
        )
        for name, i, f in zip(classes, iou, f1):
            scores[f'IoU.{name}'] = float(i) * 100
            scores[f'F1.{name}'] = float(f) * 100
        self._log_table(scores, classes, logger)
        return scores

    def _log_protocol(self, counts: Dict[str, int], logger: MMLogger) -> None:
        """Say what was scored: each pixel once, and whether the ground truth
        is eroded (then the scores are not the full-reference ones)."""
        print_log(
            f'each pixel of {counts["areas"]} areas scored once; '
            f'{counts["overlap"]} overlapping pixels not double-counted',
            logger,
        )
        share = counts['ignored'] / max(counts['pixels'], 1)
        if share >= ERODED_FRACTION or counts['eroded_paths']:
            print_log(
                f'note: the ground truth is eroded ({100 * share:.1f} % of '
                f'its pixels are ignore_index {self.ignore_index}, the '
                'boundary band, not scored): these scores are not comparable '
                'with scores on the full reference',
                logger,
                logging.WARNING,
            )

    def _log_table(
        self,
        scores: Dict[str, float],
        classes: Sequence[str],
        logger: MMLogger,
    ) -> None:
        rows = [f'{"class":<22}{"IoU":>8}{"F1":>8}']
        for c in classes:
            mark = (
                ' (excluded from mIoU/mF1)'
                if c in self.exclude_classes
                else ''
            )
            rows.append(
                f'{c:<22}{scores["IoU." + c]:>8.2f}'
                f'{scores["F1." + c]:>8.2f}{mark}'
            )
        rows.append(
            f'OA {scores["OA"]:.2f}  mIoU {scores["mIoU"]:.2f}  '
            f'mF1 {scores["mF1"]:.2f}  mIoU_all '
            f'{scores["mIoU_all"]:.2f}  mF1_all '
            f'{scores["mF1_all"]:.2f}'
        )
        print_log('per-class results:\n' + '\n'.join(rows), logger)
