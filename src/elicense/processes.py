"""Where bulk jobs' worker processes come from: a fork server that imports their modules once.

A worker of ``issue --batch --workers N`` is forked from a fork server (Linux, macOS), never from the
calling process: it inherits no threads, locks or database connections of its caller, and the modules
it needs (SQLAlchemy, pyHanko, fpdf2...: a second or so) are imported once, by the server, not once per
worker. Elsewhere workers are spawned. Standard library only: a CLI can start the server before it
imports anything heavy itself (:func:`start_early`), so both import at the same time, on two cores.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from types import FrameType

BATCH_MODULES = (
    "elicense.registry.batch",
    "elicense.registry.core",
    "elicense.issue",
    "elicense.home",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
)
"""What every batch worker imports (a database dialect that is not installed is skipped by the server)."""
PDF_MODULES = ("elicense.documents", "elicense.pdf.sign", "elicense.pdf.render")
"""What a worker writing PDFs imports besides (:class:`elicense.documents.PdfDocuments`)."""
OFD_MODULES = ("elicense.documents", "elicense.ofd.write", "elicense.ofd.seal")
"""What a worker writing OFDs imports besides (:class:`elicense.documents.OfdDocuments`)."""
MAIN_ENV = "ELICENSE_FORKSERVER_MAIN"
"""How :func:`start_early` tells the fork server which ``__main__`` to preload (see :mod:`elicense._preload_main`)."""
MAX_MAIN_ENV = 32 * 1024
"""Longer than this (a huge ``sys.argv``), the main module is not preloaded: a single environment string of
over 128 KiB makes the server's ``exec`` fail on Linux."""


def worker_context(modules: tuple[str, ...] = ()) -> BaseContext:
    """The multiprocessing context of batch workers: the fork server, preloading ``__main__``,
    :data:`BATCH_MODULES` and ``modules``, where there is one; else spawn.

    ``__main__`` too: else every worker runs the main script (the CLI, with its imports) again as
    ``__mp_main__`` before it can take a chunk (:mod:`elicense._preload_main`, last in the list, does
    what Python 3.11 and 3.12 leave undone). The preload list counts when the server starts: the
    first caller's list is the one the server imports (a module missing from it is imported by the
    worker that needs it)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", *BATCH_MODULES, *modules, "elicense._preload_main"])
    return context


def start_early(modules: tuple[str, ...] = ()) -> None:
    """Start the fork server now, in the background (it imports while this process goes on importing and
    reading its input), so that a job's workers are forked at once when it asks for them.

    Started from the main thread, the server starts with Ctrl-C (``SIGINT``) ignored, which it and every
    worker it forks inherit: a terminal sends Ctrl-C to the whole process group, and a worker that had
    not yet set its own handler (:func:`elicense.registry.batch._init_worker` ignores it) printed a
    ``KeyboardInterrupt`` traceback of its start-up. The caller decides what Ctrl-C means for a job."""
    if worker_context(modules).get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        # a disposition changes only from the main thread, and one set outside Python cannot be put back
        with _main_for_the_server():
            forkserver.ensure_running()
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited across exec: the new interpreter keeps it ignored
    try:
        with _main_for_the_server():
            forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _main_for_the_server() -> Iterator[None]:
    """:data:`MAIN_ENV` set while the fork server starts (it inherits this process's environment): what a
    worker would be told of this process's ``__main__`` (its module name or script path, ``sys.argv`` and
    ``sys.path``), for :mod:`elicense._preload_main` to import it once in the server instead of once in
    every worker."""
    from multiprocessing import spawn

    try:
        data = spawn.get_preparation_data("elicense")
    except RuntimeError:  # called while __main__ itself is being imported: its workers would fail anyway
        data = {}
    main: dict[str, object] = {
        "argv": list(data.get("sys_argv", sys.argv)),
        "sys_path": list(data.get("sys_path", sys.path)),
    }
    if "init_main_from_name" in data:
        main["name"] = data["init_main_from_name"]
    elif "init_main_from_path" in data:
        main["path"] = data["init_main_from_path"]
    raw = json.dumps(main)
    if len(main) < 3 or len(raw) > MAX_MAIN_ENV:
        yield
        return
    os.environ[MAIN_ENV] = raw
    try:
        yield
    finally:
        os.environ.pop(MAIN_ENV, None)


def _skip_teardown_in_the_fork_server() -> None:
    """In the fork server only (which imports this module while it preloads): leave without the interpreter's
    teardown once its parent has gone.

    The server holds its parent's stdout and stderr, and tearing down what it preloaded (pyHanko, fpdf2,
    SQLAlchemy) took 0.25–0.5 s after the job had ended: as long as a reader of the CLI's output
    (``elicense issue --batch … --json | jq``) waited for the end of the pipe. The server writes nothing and
    forks its workers with ``os.fork``, so it has nothing to flush or join. Recognised by the frame of
    ``multiprocessing.forkserver.main`` on the stack: no other process imports this module from there."""
    forkserver = sys.modules.get("multiprocessing.forkserver")
    main = getattr(forkserver, "main", None)
    frame: FrameType | None = sys._getframe(1)
    while main is not None and frame is not None:
        if frame.f_code is main.__code__:
            atexit.register(os._exit, 0)
            return
        frame = frame.f_back


_skip_teardown_in_the_fork_server()
