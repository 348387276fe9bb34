"""The last module the fork server of :mod:`elicense.processes` imports: the caller's ``__main__``, once.

``set_forkserver_preload(["__main__", …])`` is meant to import the main module into the fork server, so
that the workers it forks inherit it. Python 3.11 and 3.12 never do, nor 3.13 before CPython issue
126631 was fixed in 2025: the server looks for a ``main_path`` key that ``multiprocessing.spawn`` stopped
providing in Python 3.4. So every worker ran the caller's main script again, as ``__mp_main__``, before
it could take a chunk: a portal backend's whole application, and ~0.27 s of every worker's start in
``benchmarks/bench_registry.py`` (a tenth of a 20,000-licence job).

:func:`elicense.processes.start_early` hands the server what each worker would be told (the script's
path or module name, ``sys.argv`` and ``sys.path``) in :data:`elicense.processes.MAIN_ENV`. This module
imports it the way a worker would have, after every other preloaded module; a worker then finds its
``__main__`` in place and skips it. Where Python preloaded it already, this does nothing; where the
import fails, nothing is set and each worker runs the script itself, as before. So does a script that
starts a thread as it is imported (:func:`_no_thread`): the server forks every worker, and a process
with threads must not fork. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from multiprocessing import process, spawn
from typing import NoReturn

from elicense.processes import MAIN_ENV


def _preload() -> None:
    raw = os.environ.pop(MAIN_ENV, None)  # the workers forked from here need not see it
    if not raw:
        return
    try:
        main = json.loads(raw)
        argv = [str(a) for a in main["argv"]]
        path_list = [str(p) for p in main["sys_path"]]
        name, path = main.get("name"), main.get("path")
    except (ValueError, TypeError, KeyError, AttributeError):
        return
    fixup: Callable[[str], None] | None = (
        getattr(spawn, "_fixup_main_from_name", None) if isinstance(name, str) else spawn.import_main_path
    )
    what = name if isinstance(name, str) else path
    if fixup is None or not isinstance(what, str):
        return
    saved = sys.argv
    starts = {name: getattr(threading, name) for name in _THREAD_STARTS if hasattr(threading, name)}
    current = process.current_process()
    current._inheriting = True  # type: ignore[attr-defined]  # as a worker preparing its __main__ is
    sys.argv = argv  # what the script sees in a worker (the server itself was started with ``-c``)
    sys.path[:] = path_list  # and where it imports from (Python before 3.13 starts the server without it)
    for name in starts:
        setattr(threading, name, _no_thread)
    try:
        with suppress(Exception, SystemExit):  # the script's own failure: each worker runs it itself, as before
            fixup(what)
    finally:
        for name, start in starts.items():
            setattr(threading, name, start)
        sys.argv = saved
        del current._inheriting  # type: ignore[attr-defined]


_THREAD_STARTS = ("_start_new_thread", "_start_joinable_thread")
"""How ``threading.Thread.start`` starts a thread: Python 3.11 and 3.12, then 3.13 and later."""


def _no_thread(*_args: object) -> NoReturn:
    """``threading``'s thread start while the server imports the script: refused. A process that runs threads
    must not fork (a lock another thread holds stays held in the child), and this one forks every worker; a
    script that starts a thread as it is imported (a scheduler, a metrics agent) fails to import here, so it
    is left to each worker, as before."""
    raise RuntimeError("elicense's fork server starts no threads: the main script is left to each worker")


_preload()
