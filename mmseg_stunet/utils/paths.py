"""Paths of the source checkout (configs, tools) for the tools, the demo and
the tests: computed here once instead of in every script."""
import os.path as osp

__all__ = ['project_root', 'config_path']


def project_root() -> str:
    """The checkout that holds ``configs/`` next to this package.

    Raises:
        FileNotFoundError: for a non-editable install, which carries the
            package but not the configs: pass config paths explicitly then.
    """
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if not osp.isdir(osp.join(root, 'configs')):
        raise FileNotFoundError(
            f'no configs/ folder next to the installed package ({root}); '
            'the configs ship with the source checkout: install it with '
            '`pip install -e CHECKOUT` or pass config paths explicitly')
    return root


def config_path(*parts: str) -> str:
    """``<checkout>/configs/<parts...>``."""
    return osp.join(project_root(), 'configs', *parts)
