"""ISPRS metric (OA, per-class IoU/F1, mIoU/mF1 without clutter).

Importing a module registers its classes in the registries."""

from .metrics import ISPRSMetric

__all__ = ['ISPRSMetric']
