"""The options the README, docs/ and the docstrings give a tool exist:
every ``tools/X.py ... --opt`` in a command (fenced code block, inline
code, a tool's ``python tools/...`` usage line, a docstring's
``tools/X.py --opt``) is an option of that tool's ``--help`` (of its
subcommands' for tools with subcommands)."""

import ast
import glob
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, Iterable, Iterator, List, Set, Tuple

import pytest

from mmseg_stunet.utils.paths import project_root

ROOT = project_root()
TOOL = re.compile(r'tools/[\w/]+\.py')
OPTION = re.compile(r'(?<![\w-])--[a-z][a-z0-9-]*')
FENCE = re.compile(r'^```[^\n]*\n(.*?)^```', re.S | re.M)


def logical_lines(block: str) -> List[str]:
    """Lines with ``\\`` continuations and ``[...]`` usage continuation
    lines joined, comments dropped."""
    lines: List[str] = []
    for line in re.sub(r'\\\n', ' ', block).splitlines():
        if lines and line.strip().startswith('['):
            lines[-1] += ' ' + line.strip()
        else:
            lines.append(line)
    return [line.split(' #')[0] for line in lines]


def tool_options(commands: Iterable[str]) -> Iterator[Tuple[str, str]]:
    """(tool, option) for each option after a tool in a command."""
    for command in commands:
        for match in TOOL.finditer(command):
            rest = command[match.end() :]
            following = TOOL.search(rest)
            if following:
                rest = rest[: following.start()]
            for option in OPTION.findall(rest):
                yield match.group(0), option


def markdown_commands(text: str) -> List[str]:
    commands = []
    for block in FENCE.findall(text):
        commands += logical_lines(block)
    prose = FENCE.sub('', text)
    commands += [
        ' '.join(span.split()) for span in re.findall(r'`([^`]+)`', prose)
    ]
    return commands


def documented_options() -> Dict[str, Set[Tuple[str, str]]]:
    """tool -> {(option, file that gives it)}."""
    found: Dict[str, Set[Tuple[str, str]]] = {}
    sources = []
    for path in ['README.md'] + sorted(
        glob.glob(osp.join(ROOT, 'docs', '*.md'))
    ):
        with open(osp.join(ROOT, path)) as f:
            sources.append(
                (
                    osp.relpath(osp.join(ROOT, path), ROOT),
                    markdown_commands(f.read()),
                )
            )
    for path in sorted(
        glob.glob(osp.join(ROOT, 'tools', '*.py'))
        + glob.glob(osp.join(ROOT, 'tools', '*', '*.py'))
    ):
        with open(path) as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ''
        sources.append(
            (
                osp.relpath(path, ROOT),
                [
                    line
                    for line in logical_lines(doc)
                    if line.strip().startswith('python tools/')
                ],
            )
        )
    # the package's and the tools' docstrings: ``tools/X.py --opt`` spans
    for path in sorted(
        glob.glob(osp.join(ROOT, 'mmseg_stunet', '**', '*.py'), recursive=True)
        + glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True)
    ):
        with open(path) as f:
            tree = ast.parse(f.read())
        docs = [
            ast.get_docstring(node) or ''
            for node in ast.walk(tree)
            if isinstance(
                node,
                (
                    ast.Module,
                    ast.ClassDef,
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                ),
            )
        ]
        sources.append(
            (
                osp.relpath(path, ROOT),
                [
                    ' '.join(span.split())
                    for doc in docs
                    for span in re.findall(r'`([^`]+)`', doc)
                ],
            )
        )
    for where, commands in sources:
        for tool, option in tool_options(commands):
            found.setdefault(tool, set()).add((option, where))
    return found


DOCUMENTED = documented_options()


def help_text(tool: str) -> str:
    """``--help`` of the tool and of each of its subcommands."""

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, tool, *args, '--help'],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    text = run()
    subcommands = re.search(r'^usage: \S+ \[-h\] \{([\w,-]+)\}', text, re.M)
    for sub in subcommands.group(1).split(',') if subcommands else ():
        text += run(sub)
    return text


def test_the_docs_give_options():
    """The scan finds the documented commands (it would pass vacuously if
    it found none)."""
    assert {
        'tools/train.py',
        'tools/test.py',
        'tools/predict.py',
        'tools/export_onnx.py',
    } <= set(DOCUMENTED)
    assert any(
        option == '--resume' for option, _ in DOCUMENTED['tools/train.py']
    )
    # what a renamed option in the docs looks like to the scan
    assert set(
        tool_options(
            markdown_commands(
                'run `python tools/train.py CFG --work-dir W --no-such`\n'
                '```\npython tools/test.py CFG CKPT \\\n  --out DIR  # --x\n```\n'
            )
        )
    ) == {
        ('tools/train.py', '--work-dir'),
        ('tools/train.py', '--no-such'),
        ('tools/test.py', '--out'),
    }


@pytest.mark.parametrize('tool', sorted(DOCUMENTED))
def test_documented_options_exist(tool):
    assert osp.isfile(osp.join(ROOT, tool)), (
        f'{sorted(w for _, w in DOCUMENTED[tool])} name {tool}: no such tool'
    )
    text = help_text(tool)
    missing = sorted(
        f'{option} ({where})'
        for option, where in DOCUMENTED[tool]
        if not re.search(
            r'(?<![\w-])' + re.escape(option) + r'(?![\w-])', text
        )
    )
    assert not missing, f'{tool} has no option ' + ', '.join(missing)
