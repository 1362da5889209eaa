"""ISPRS Vaihingen / Potsdam and LoveDA: facts (classes, colours, bands,
splits), data sets that refuse empty folders and labels written as class
indices from 0, and a label check that names the file.

Importing a module registers its classes in the registries."""

from .isprs import ISPRSPotsdamDataset, ISPRSVaihingenDataset
from .loveda import CheckedLoveDADataset
from .transforms import CheckSegMap

__all__ = [
    'ISPRSVaihingenDataset',
    'ISPRSPotsdamDataset',
    'CheckedLoveDADataset',
    'CheckSegMap',
]
