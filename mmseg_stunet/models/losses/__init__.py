"""Losses: the ST-UNet authors' class-wise soft Dice.

Importing a module registers its classes in the registries."""

from .classwise_dice_loss import ClassWiseDiceLoss, classwise_dice_loss

__all__ = ['ClassWiseDiceLoss', 'classwise_dice_loss']
