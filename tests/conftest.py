"""Fixtures shared by all tests (helpers live in ``mmseg_stunet.testing``)."""
import pytest
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Build from MMSegmentation's registries in every test, whatever scope
    an earlier test's runner left as the current one."""
    init_default_scope('mmseg')
