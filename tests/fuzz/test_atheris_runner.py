"""The atheris runner: lists targets, fails clearly without atheris, and runs a target for a few hundred inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("atheris_targets.py")


def _run(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import runpy, sys; {prelude or 'pass'}; sys.argv = {[str(RUNNER), *args]!r}; runpy.run_path(sys.argv[0], run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)


def test_lists_targets() -> None:
    proc = _run("--list")
    assert proc.returncode == 0
    assert "el1" in proc.stdout and "bundle_content" in proc.stdout


def test_unknown_target_and_missing_atheris_fail_clearly() -> None:
    proc = _run("no-such-target")
    assert proc.returncode == 2 and "unknown target" in proc.stderr
    proc = _run("cbor", prelude="sys.modules['atheris'] = None")
    assert proc.returncode == 3 and "atheris is not installed" in proc.stderr


def test_a_short_atheris_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "el1_cose", "-runs=300", "-seed=1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Done 300 runs" in proc.stderr
    assert not list(tmp_path.glob("crash-*"))
