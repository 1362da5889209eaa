"""ISPRS Vaihingen / Potsdam and LoveDA: facts (classes, colours, bands,
splits), data sets that refuse empty folders and labels written as class
indices from 0, and a label check that names the file.

Importing a module registers its classes in the registries; importing the
package imports none of them (``meta``'s facts stay light), names load on
first use."""

import importlib
from typing import Any

#: public name -> the module defining it (loaded on first use: the facts in
#: ``meta`` need no MMSegmentation, the data sets do)
_WHERE = {
    'ISPRSVaihingenDataset': 'isprs',
    'ISPRSPotsdamDataset': 'isprs',
    'CheckedLoveDADataset': 'loveda',
    'CheckSegMap': 'transforms',
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = importlib.import_module(f'{__name__}.{_WHERE[name]}')
        return getattr(module, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
