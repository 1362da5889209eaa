"""The soft Dice loss of the ST-UNet authors (class-wise over the batch)."""

from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['ClassWiseDiceLoss', 'classwise_dice_loss']


def classwise_dice_loss(
    logits: Tensor,
    target: Tensor,
    ignore_index: int = 255,
    smooth: float = 1e-5,
) -> Tensor:
    """Mean over classes of ``1 - Dice_c`` with sums over the whole batch.

    With ``p = softmax(logits)`` and ``t_c`` the one-hot target of class c:

        d_c = 1 - (2 * sum(p_c * t_c) + smooth)
                  / (sum(p_c^2) + sum(t_c^2) + smooth)
        loss = mean over all classes c of d_c

    the sums running over every pixel of every image whose label is not
    ``ignore_index`` (ignored pixels drop out of all three sums). Computed in
    float32 whatever the logits' dtype.

    Args:
        logits: (B, K, H, W) class scores.
        target: (B, H, W) class indices in ``[0, K)`` or ``ignore_index``.

    Returns:
        0-dim tensor.
    """
    num_classes = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1)  # (B, 1, H, W)
    dtype = torch.promote_types(logits.dtype, torch.float32)
    prob = logits.to(dtype).softmax(dim=1) * valid
    onehot = (
        F.one_hot(
            target.masked_fill(~valid[:, 0], 0).long(), num_classes
        ).permute(0, 3, 1, 2)
        * valid
    )
    dims = (0, 2, 3)
    intersect = (prob * onehot).sum(dims)
    denom = (prob * prob).sum(dims) + onehot.sum(dims)  # t^2 = t
    return (1 - (2 * intersect + smooth) / (denom + smooth)).mean()


@MODELS.register_module()
class ClassWiseDiceLoss(nn.Module):
    """Soft Dice of the ST-UNet authors (TransUNet's ``DiceLoss`` with
    softmax), as :func:`classwise_dice_loss`, for MMSegmentation heads.

    MMSegmentation 1.2.2's ``DiceLoss`` is another function: one Dice per
    image over classes and pixels flattened together (eps 1e-3) with ignored
    pixels counted; on ISPRS it gives the rare car class (about 1 % of the
    pixels) several times less gradient than this class-wise form.

    Args:
        loss_weight (float): factor of the loss. Default: 1.0.
        smooth (float): added to numerator and denominator. Default: 1e-5.
        loss_name (str): key of the loss in the log; must start with
            ``loss_`` to be optimised. Default: ``'loss_dice'``.

    Shapes: pred (B, K, H, W), target (B, H, W) -> 0-dim tensor.
    """

    def __init__(
        self,
        loss_weight: float = 1.0,
        smooth: float = 1e-5,
        loss_name: str = 'loss_dice',
    ):
        super().__init__()
        self.loss_weight = loss_weight
        self.smooth = smooth
        self._loss_name = loss_name

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Optional[Tensor] = None,
        ignore_index: int = 255,
        **kwargs,
    ) -> Tensor:
        """``weight`` (per-pixel weights of a sampler) is not supported: a
        weighted Dice is another loss."""
        if weight is not None:
            raise ValueError(
                f'{type(self).__name__} takes no per-pixel '
                'weight (set no sampler on the head)'
            )
        return self.loss_weight * classwise_dice_loss(
            pred, target, ignore_index, self.smooth
        )

    @property
    def loss_name(self) -> str:
        return self._loss_name
