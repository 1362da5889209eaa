"""Print the requirements of installed distributions that nothing installed
satisfies, one per line (for ``pip install``), following installed ones.

    python missing_requirements.py [--alias NAME=OTHER]... DIST...

tools/setup_env.sh uses it where packages were installed with ``--no-deps``
because one of their requirements is already met under another name: an
environment with ``opencv-python-headless`` has ``cv2``, yet mmengine's wheel
asks for ``opencv-python``, which pip would install beside it (two OpenCVs
overwrite each other's ``cv2``) or, offline, fail to find. ``--alias
opencv-python=opencv-python-headless`` counts the one as the other.
Requirements with extras markers are skipped, environment markers evaluated.
"""

import argparse
import re
from importlib import metadata
from typing import Dict, List, Optional, Sequence

try:
    from packaging.requirements import Requirement
except ImportError:  # an environment without packaging still has pip's copy
    from pip._vendor.packaging.requirements import Requirement


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r'[-_.]+', '-', name).lower()


def installed_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing(dists: Sequence[str], aliases: Dict[str, str]) -> List[str]:
    """Unsatisfied requirement strings of ``dists`` and, transitively, of
    the installed distributions they require."""
    seen, todo, out = set(), [canonical(d) for d in dists], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(
                {'extra': ''}
            ):
                continue
            target = aliases.get(canonical(req.name), canonical(req.name))
            version = installed_version(target)
            if version is None:
                out.append(str(req))
            elif (
                target == canonical(req.name)
                and req.specifier
                and not req.specifier.contains(version, prereleases=True)
            ):
                out.append(str(req))
            else:
                todo.append(target)
    return sorted(set(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dists', nargs='+')
    parser.add_argument(
        '--alias',
        action='append',
        default=[],
        help='NAME=OTHER: OTHER installed satisfies NAME',
    )
    args = parser.parse_args()
    aliases = {}
    for item in args.alias:
        name, sep, other = item.partition('=')
        if not sep:
            parser.error(f'--alias wants NAME=OTHER, got {item!r}')
        aliases[canonical(name)] = canonical(other)
    for req in missing(args.dists, aliases):
        print(req)


if __name__ == '__main__':
    main()
