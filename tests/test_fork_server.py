"""The fork server of batch workers (``elicense.processes``) leaves without tearing down what it preloaded.

It holds the CLI's stdout and stderr: a reader of ``elicense issue --batch … --json | jq`` waits until it
has gone, and its teardown of pyHanko, fpdf2 and SQLAlchemy took 0.25–0.5 s after every job.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
from elicense.processes import worker_context

with ProcessPoolExecutor(1, mp_context=worker_context(("teardown_marker",))) as pool:
    print(pool.submit(os.getppid).result())  # a worker's parent: the fork server
"""

MARKER = """
import os

class _Teardown:
    def __del__(self, path=os.environ["TEARDOWN_MARKER"], open=open, getpid=os.getpid) -> None:
        with open(path, "a") as f:  # runs when the interpreter tears this module down (names bound now)
            f.write(f"{getpid()}\\n")

_object = _Teardown()
"""


def test_the_fork_server_exits_without_tearing_down_its_preloaded_modules(tmp_path: Path) -> None:
    (tmp_path / "teardown_marker.py").write_text(textwrap.dedent(MARKER))
    marker = tmp_path / "torn-down"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "TEARDOWN_MARKER": str(marker)}
    # capture_output: run() returns once the pipes close, i.e. once the fork server has gone too
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    server = int(proc.stdout)
    assert server > 0
    torn_down = marker.read_text().split() if marker.exists() else []
    assert str(server) not in torn_down, "the fork server ran the interpreter's teardown"


def test_a_process_that_is_not_the_fork_server_keeps_its_teardown(tmp_path: Path) -> None:
    """The same import elsewhere (here a plain process that imports the marker after elicense.processes)
    changes nothing: only the fork server, recognised by its frame, skips the teardown."""
    (tmp_path / "teardown_marker.py").write_text(textwrap.dedent(MARKER))
    marker = tmp_path / "torn-down"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "TEARDOWN_MARKER": str(marker)}
    code = "import os, elicense.processes, teardown_marker; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text().split() == [proc.stdout.strip()]


SIGINT_SCRIPT = """
import signal
from concurrent.futures import ProcessPoolExecutor
from elicense.processes import start_early, worker_context

start_early()
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)  # this process's Ctrl-C: as it was
with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:  # no initializer: the worker as forked
    print(pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN)
"""


def test_workers_ignore_ctrl_c_from_the_moment_they_are_forked(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: a worker still starting up (before its own
    initializer ignores it) printed a KeyboardInterrupt traceback. The fork server starts with SIGINT
    ignored, so every worker it forks is born ignoring it; the calling process keeps its own handler."""
    env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", SIGINT_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"], proc.stdout


MAIN_SCRIPT = """
import os, sys
with open(os.environ["MAIN_MARKER"], "a") as f:  # every run of this script, in every process
    f.write(f"{os.getpid()} {os.getppid()} {__name__} {' '.join(sys.argv[1:])}\\n")
from concurrent.futures import ProcessPoolExecutor
from elicense.processes import start_early, worker_context

def where():
    return os.getpid(), os.getppid(), "ELICENSE_FORKSERVER_MAIN" in os.environ

if __name__ == "__main__":
    start_early()
    with ProcessPoolExecutor(2, mp_context=worker_context()) as pool:
        seen = {pool.submit(where).result() for _ in range(6)}
    print(os.getpid(), *(f"{pid}:{ppid}:{leaked}" for pid, ppid, leaked in sorted(seen)))
"""


def _run_main(tmp_path: Path, script: Path, *args: str) -> tuple[str, list[str], list[list[str]]]:
    """Run ``script`` (a :data:`MAIN_SCRIPT`) with ``args`` from ``tmp_path``: the caller's pid, its workers'
    ``pid:ppid:leaked``, and every run of the script as ``[pid, ppid, name, args]``."""
    marker = tmp_path / "runs"
    env = {"PATH": "/usr/bin:/bin", "MAIN_MARKER": str(marker)}
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    caller, *workers = proc.stdout.split()
    runs = [[*line.split(maxsplit=3), ""][:4] for line in marker.read_text().splitlines()]
    return caller, workers, runs


def test_the_callers_main_script_runs_once_in_the_fork_server_not_in_every_worker(tmp_path: Path) -> None:
    """Python 3.11 and 3.12 never preload ``__main__`` into the fork server (CPython issue 126631): every
    worker ran the caller's script again as ``__mp_main__`` before taking work (a portal backend's whole
    application; ~0.27 s of each worker's start in the issuance benchmark). The server now runs it once,
    with the caller's ``sys.argv`` and ``sys.path``, and its workers inherit it."""
    script = tmp_path / "app" / "portal.py"
    script.parent.mkdir()
    (script.parent / "portal_helper.py").write_text("VALUE = 1\n")  # importable from the script's directory only
    script.write_text(textwrap.dedent(MAIN_SCRIPT).replace("import os, sys", "import os, sys, portal_helper", 1))
    caller, workers, runs = _run_main(tmp_path, script, "--region", "440000")
    assert [r[2:] for r in runs] == [["__main__", "--region 440000"], ["__mp_main__", "--region 440000"]], runs
    server = runs[1][0]
    assert runs[1][1] == caller, "the script's second run is not the fork server's (the caller's child)"
    assert workers, runs
    for w in workers:
        pid, ppid, leaked = w.split(":")
        assert ppid == server and pid not in (caller, server), w
        assert leaked == "False", "the hand-over variable reached a worker's environment"


FAILS_IN_THE_SERVER = (
    "import os, sys\n"
    "if __name__ == '__mp_main__' and any(f.function == '_preload' for f in __import__('inspect').stack()):\n"
    "    open(os.environ['MAIN_MARKER'], 'a').write(f'{os.getpid()} {os.getppid()} importing -\\n')\n"
    "    raise SystemExit(2)\n"
)
"""A script that exits when it finds the server's preload on its stack."""
STARTS_A_THREAD = (
    "import os, sys, threading\n"
    "open(os.environ['MAIN_MARKER'], 'a').write(f'{os.getpid()} {os.getppid()} importing -\\n')\n"
    "threading.Thread(target=lambda: None).start()\n"
)
"""A script that starts a thread as it is imported (a scheduler, a metrics agent)."""


@pytest.mark.parametrize("start", [FAILS_IN_THE_SERVER, STARTS_A_THREAD], ids=["fails", "starts-a-thread"])
def test_a_main_script_the_fork_server_cannot_import_is_run_by_each_worker(tmp_path: Path, start: str) -> None:
    """A script that fails when the server imports it leaves nothing half-done there: each worker runs it itself,
    as without the preload. So does one that starts a thread as it is imported: the fork server forks every
    worker, and a process with threads must not fork (a lock another thread holds stays held in the child), so
    the server refuses it the thread and the import fails there."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(MAIN_SCRIPT).replace("import os, sys\n", start, 1))
    caller, workers, runs = _run_main(tmp_path, script)
    server = next(pid for pid, ppid, name, _ in runs if name == "importing" and ppid == caller)
    assert [name for pid, _, name, _ in runs if pid == server] == ["importing"], runs  # it got no further there
    in_workers = {pid for pid, ppid, name, _ in runs if name == "__mp_main__" and ppid == server}
    assert workers and in_workers == {w.split(":")[0] for w in workers}, (runs, workers)
