"""Fixtures and settings shared by all tests; the tests' helpers are
``tests/helpers.py`` (``from helpers import ...``: this folder is put on
``sys.path`` here, as ``--import-mode=importlib`` does not)."""

import functools
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import utils as config_utils
from mmengine.registry import init_default_scope

from mmseg_stunet.utils.notices import filterwarnings_lines

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` skip cleanly on a machine without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='needs a CUDA device')
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)


def pytest_configure(config):
    # the known third-party notices, by message (one list with the tools')
    for line in filterwarnings_lines():
        config.addinivalue_line('filterwarnings', line)


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Build from MMSegmentation's registries in every test, whatever scope
    an earlier test's runner left as the current one."""
    init_default_scope('mmseg')


@pytest.fixture(autouse=True, scope='session')
def cached_metafile_reads():
    """mmengine resolves every ``mmseg::`` base by parsing MMSegmentation's
    106 metafiles (pure-Python YAML, 0.6 s); the files do not change during
    a test session, so read each once."""
    read = config_utils.load
    config_utils.load = functools.lru_cache(None)(read)
    yield
    config_utils.load = read
