"""Errors of bad input that the tools report in one line, and the one
``main`` wrapper every tool runs under (:func:`run_tool_main`)."""

import os
import re
import signal
import sys
import threading
from typing import Any, Callable, Optional, Tuple, Type, TypeVar

from ..utils.paths import UnsafeOutputError

T = TypeVar('T')

__all__ = [
    'CheckpointError',
    'ConfigError',
    'DivergenceError',
    'UnsafeOutputError',
    'USER_ERRORS',
    'PROJECT_ERRORS',
    'one_line',
    'user_error',
    'run_tool_main',
    'install_excepthook',
    'TRACEBACK_ENV',
]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, or does not fit its model."""


class ConfigError(ValueError):
    """A setting that cannot work here; the message says what to do."""


class DivergenceError(RuntimeError):
    """Training that reached a non-finite loss or non-finite weights: the
    run stops there, keeping the checkpoints saved before."""


#: the project's errors of bad input (each tool adds what it reads with,
#: see :func:`run_tool_main`)
USER_ERRORS = (
    CheckpointError,
    ConfigError,
    DivergenceError,
    FileNotFoundError,
    UnsafeOutputError,
)

#: the errors only this project raises: reported in one line also where
#: no tool of the project runs ``main`` (:func:`install_excepthook`)
PROJECT_ERRORS = (
    CheckpointError,
    ConfigError,
    DivergenceError,
    UnsafeOutputError,
)

#: set to 1 to see the traceback behind a one-line error (for bug reports)
TRACEBACK_ENV = 'MMSEG_STUNET_TRACEBACK'

# mmengine's ``build_from_cfg`` re-raises what a constructor raised as
# ``type(e)(f'class `Name` in package/module.py: {e}')``, once per level
_BUILD = re.compile(r'class `(\w+)` in ([\w/.]+)\.py: ')
_REGISTRY_MISS = re.compile(r'(\S+) is not in the (\S+) registry')


def one_line(err: BaseException) -> str:
    """``str(err)`` on one line (lines joined with ``; ``), or the class
    name of an error without a message."""
    text = str(err)
    if (
        isinstance(err, KeyError)
        and len(err.args) == 1
        and isinstance(err.args[0], str)
    ):
        text = err.args[0]  # KeyError's str() adds quotes
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    worker = _WORKER.match(lines[0]) if lines else None
    if worker and len(lines) > 1:
        # torch re-raises a worker's error with the worker's whole traceback
        # as its message: its last line is the error itself
        last = lines[-1]
        qualified = _QUALIFIED.match(last)
        if qualified:  # module.path.Name: message -> Name: message
            name, message = qualified.groups()
            last = message if name == 'DataFileError' else f'{name}: {message}'
        return f'in data loader worker {worker.group(1)}: {last}'
    return '; '.join(lines) or type(err).__name__


_WORKER = re.compile(r'Caught \w+ in DataLoader worker process (\d+)\.')
_QUALIFIED = re.compile(r'^(?:\w+\.)*(\w+): (.*)$')


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _built_class(err: BaseException) -> Optional[str]:
    """The class (or function) whose construction from a config raised
    ``err``: that of the innermost frame of mmengine's ``build_from_cfg``
    on the traceback (None if there is none)."""
    name = None
    tb = err.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == 'build_from_cfg' and 'mmengine' in code.co_filename:
            obj = tb.tb_frame.f_locals.get('obj_cls')
            if obj is not None:
                name = getattr(obj, '__name__', None) or str(obj)
        tb = tb.tb_next
    return name


def user_error(err: BaseException) -> Optional[str]:
    """The one-line message for an error raised while mmengine built what
    a config describes, else None.

    * a ``type`` that no registry holds (mmengine's ``KeyError``): the
      name and the registry;
    * a constructor that refused its arguments: a ``TypeError``,
      ``ValueError``, ``KeyError`` or ``AssertionError`` raised below
      mmengine's ``build_from_cfg`` (older mmengine versions prefix
      ``class `Name` in module.py``): the innermost class built and the
      error's own message.

    Other errors are bugs, not bad input: they keep their traceback.
    """
    text = one_line(err)
    miss = _REGISTRY_MISS.search(text)
    if isinstance(err, KeyError) and miss:
        name, registry = miss.group(1).strip('`\'"'), miss.group(2)
        return (
            f'type {name!r} is not registered in {registry}; check '
            'the spelling, or import the module that registers it '
            '(custom_imports)'
        )
    if isinstance(err, (TypeError, ValueError, KeyError, AssertionError)):
        found = list(_BUILD.finditer(text))
        name = _built_class(err) or (found[-1].group(1) if found else None)
        if name is not None:
            message = text[found[-1].end() :] if found else text
            message = message.strip('\'" ') or type(err).__name__
            return f'cannot build {name} from the config: {message}'
    return None


def _stop(message: str) -> None:
    print(f'error: {message}', file=sys.stderr, flush=True)
    sys.exit(1)


def run_tool_main(
    main: Callable[[], T], errors: Tuple[Type[BaseException], ...] = ()
) -> T:
    """Run a tool's ``main`` so that mistakes stop it with one line;
    returns what ``main`` returns.

    * :data:`USER_ERRORS`, ``OSError`` (unreadable input, unwritable or
      full output) and ``errors`` (the tool's own error classes) print
      ``error: <message>`` on stderr, on one line, and exit 1;
    * errors of building what the config describes (:func:`user_error`:
      an unregistered ``type``, a constructor refusing its arguments)
      likewise;
    * Ctrl-C (SIGINT) and SIGTERM print ``error: interrupted (SIGINT)``
      (or SIGTERM) and exit 130 / 143, as a shell reports them; the tools
      write atomically, so a stopped run leaves no partial output (the
      SIGTERM handler is installed for the call only, where none is);
    * anything else is a bug and keeps its traceback; so do all of the
      above with ``MMSEG_STUNET_TRACEBACK=1`` in the environment.

    ``argparse`` errors (exit 2, usage and one ``error:`` line) and
    ``sys.exit`` pass through unchanged.
    """
    previous = None
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    ):
        previous = signal.signal(signal.SIGTERM, _interrupted)
    debug = _debug()
    try:
        return main()
    except KeyboardInterrupt as err:
        if debug:
            raise
        name = one_line(err) if str(err).startswith('SIG') else 'SIGINT'
        print(f'error: interrupted ({name})', file=sys.stderr, flush=True)
        sys.exit(128 + signal.Signals[name].value)
    except USER_ERRORS + (OSError,) + tuple(errors) as err:
        if debug:
            raise
        _stop(one_line(err))
    except Exception as err:  # noqa: B902  (only build errors: see above)
        message = user_error(err)
        if message is None or debug:
            raise
        _stop(message)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _debug() -> bool:
    return os.environ.get(TRACEBACK_ENV, '') not in ('', '0')


def _project_excepthook(
    kind: Type[BaseException], value: BaseException, tb: Any
) -> None:
    if issubclass(kind, PROJECT_ERRORS) and not _debug():
        print(f'error: {one_line(value)}', file=sys.stderr, flush=True)
        return  # Python then exits with status 1, as for any error
    _previous_excepthook(kind, value, tb)


_previous_excepthook = sys.__excepthook__


def install_excepthook() -> None:
    """Report an uncaught error of :data:`PROJECT_ERRORS` in one line
    (``error: <message>``, exit status 1) instead of a traceback; every
    other error goes to the hook that was there before.

    Installed when the package is imported, so MMSegmentation's own tools
    (``mim train`` / ``mim test mmseg ...``, which import this package
    through the config's ``custom_imports``) stop on the project's checks
    (a checkpoint that does not fit, a NaN loss, an output on an input) as
    the project's tools do. Errors that mmengine or MMSegmentation raise
    there keep their traceback: they are not this project's to shorten.
    ``MMSEG_STUNET_TRACEBACK=1`` shows the traceback.
    """
    global _previous_excepthook
    if sys.excepthook is not _project_excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _project_excepthook
