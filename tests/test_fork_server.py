"""The fork server of batch workers (``elicense.processes``) leaves without tearing down what it preloaded.

It holds the CLI's stdout and stderr: a reader of ``elicense issue --batch … --json | jq`` waits until it
has gone, and its teardown of pyHanko, fpdf2 and SQLAlchemy took 0.25–0.5 s after every job.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
