"""The ``elicense`` command line.

Exit codes are a public contract: 0 valid, 1 invalid, 2 indeterminate, 3 and
above for errors (bad input, bad trust data, usage). Every error is one line
on stderr, never a traceback. Commands import heavy stacks lazily so that
``elicense verify X.qr.txt`` starts fast; that command line does not even
import click (:func:`run`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from elicense.cli.common import (
    COMMANDS,
    EXIT_ERROR,
    EXIT_INDETERMINATE,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_VALID,
    closed_everything,
    default_lang,
    echo_err,
    error_line,
    lang_arg,
    nothing_left_open,
)
from elicense.errors import ElicenseError

if TYPE_CHECKING:
    from elicense.cli.app import LazyGroup

__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_INDETERMINATE",
    "EXIT_INTERNAL",
    "EXIT_INVALID",
    "EXIT_VALID",
    "cli",
    "default_lang",
    "echo_err",
    "error_line",
    "lang_arg",
    "main",
    "run",
]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map outcomes to exit codes."""
    import atexit  # built in: no cost to the click-free verify

    count = getattr(atexit, "_ncallbacks", None)
    if count is not None and count() == 0:
        # the first exit handler runs last: after every other one (the pool's, multiprocessing's, temporary
        # directories'); a program that registered its own before calling main() keeps the full teardown
        atexit.register(_end_without_teardown)
    code = run(argv, process_exits=True)
    _ctrl_c_ignored_if_pressed()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left before the last buffered lines (`| head`): no traceback
        _stdout_to_devnull()
        code = EXIT_ERROR
    global _exit_code
    _exit_code = code
    sys.exit(code)


_exit_code = 0
"""The code :func:`main` exits with (for :func:`_end_without_teardown`)."""


def _end_without_teardown() -> None:
    """The last exit handler: after a command that closed everything it opened (:func:`nothing_left_open`),
    end the process with its code once every other exit handler has run, without the interpreter's teardown
    (nothing is left for it to close or flush; it only frees memory the process is about to give back:
    ~20 ms after a click-free verify, more than a verification (#8); 0.15–0.35 s after a batch (#22))."""
    if not closed_everything():
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: the interpreter's own teardown decides
        return
    os._exit(_exit_code)


class _InterruptOnce:
    """The CLI process's Ctrl-C: the first press interrupts (``KeyboardInterrupt``); later ones are ignored,
    as the command is already stopping. A batch job stops between two of its steps, shuts its workers
    down and prints how to resume; a second press must not cut that short or end the process by signal."""

    def __init__(self) -> None:
        self.pressed = False

    def __call__(self, signum: int, frame: object) -> None:
        if not self.pressed:
            self.pressed = True
            raise KeyboardInterrupt


def _later_ctrl_c_ignored() -> None:
    import signal  # not at module level: the click-free verify never needs it (cold start, #8)

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with contextlib.suppress(ValueError):  # not the main thread: Python's handlers do not run in it anyway
            signal.signal(signal.SIGINT, _InterruptOnce())


def _ctrl_c_ignored_if_pressed() -> None:
    """After an interrupted run, a later press stays ignored while the process exits.

    The interpreter's teardown puts Python-level handlers back to the default action, which ends the
    process by signal: a third press that came while a quickly stopped job was exiting turned exit 130
    (and its printed resume hint) into death by SIGINT. An ignored signal stays ignored through it."""
    if "signal" not in sys.modules:  # then no handler of ours was installed (the click-free verify)
        return
    import signal

    handler = signal.getsignal(signal.SIGINT)
    if isinstance(handler, _InterruptOnce) and handler.pressed:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(argv: Sequence[str] | None = None, *, process_exits: bool = False) -> int:
    """Run the CLI and return the exit code (used by tests and ``main``).

    ``process_exits`` (``main``): the process ends after this run, so what a verify loads may be
    frozen out of garbage collection (``gc.freeze``), which no in-process caller should see.

    A plain ``elicense verify ...`` line (known options, well-formed values, UTF-8 streams)
    is parsed by :func:`elicense.cli.verify.fast_options` and runs without importing click:
    click and what it imports cost about a fifth of the cold start (#8). Any other line,
    including every malformed one, ``--help`` and every other command, goes to click, so
    click's parsing and messages stay the one reference (``tests/cli/test_fast_path.py``
    holds both paths to the same output).
    """
    nothing_left_open(False)  # this run's: main() must never skip the teardown after another command's run
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["verify"] and _utf8(sys.stdout) and _utf8(sys.stderr):
            from elicense.cli.verify import fast_options, run_verify

            options = fast_options(args[1:])
            if options is not None:
                code = run_verify(options, freeze_gc=process_exits)
                nothing_left_open()  # a click-free verify holds no database, temporary file or worker pool
                return code
        if process_exits:
            _later_ctrl_c_ignored()
        from elicense.cli.app import run_click

        return run_click(args)
    except ElicenseError as exc:  # raised outside a command's own handling: still honour --lang
        echo_err(error_line(exc, lang_arg(args)))
        return EXIT_ERROR
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_ERROR
    except KeyboardInterrupt:
        echo_err("elicense: interrupted")
        return 130
    except OSError as exc:
        echo_err(f"elicense: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_ERROR
    except Exception as exc:  # last resort: still one line, and a distinct code
        if os.environ.get("ELICENSE_DEBUG"):
            raise
        echo_err(f"elicense: internal error: {type(exc).__name__}: {exc} (set ELICENSE_DEBUG=1 for a traceback)")
        return EXIT_INTERNAL


def _stdout_to_devnull() -> None:
    """After a broken pipe: later flushes (ours, the interpreter's at exit) must not raise again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _utf8(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None)
    return isinstance(encoding, str) and encoding.lower().replace("-", "").replace("_", "") == "utf8"


def __getattr__(name: str) -> object:
    """``cli`` (the click group) and ``LazyGroup`` load click on first use only."""
    if name in ("cli", "LazyGroup"):
        from elicense.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


cli: LazyGroup  # the click group (loaded on first access, see __getattr__)
