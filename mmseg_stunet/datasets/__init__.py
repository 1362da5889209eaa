"""ISPRS Vaihingen / Potsdam: facts (classes, colours, splits), data sets
that refuse empty folders and labels written as class indices 0..5, and a
label check that names the file.

Importing a module registers its classes in the registries."""
from .isprs import ISPRSPotsdamDataset, ISPRSVaihingenDataset
from .transforms import CheckSegMap

__all__ = ['ISPRSVaihingenDataset', 'ISPRSPotsdamDataset', 'CheckSegMap']
