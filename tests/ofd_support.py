"""Where the shared OFD corpus and the ofdrw reference CLI live (outside the repository), and how to run it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _shared(*parts: str) -> Path | None:
    """``shared/<parts>`` in the nearest ancestor of this file that has it (a worktree sits one level deeper)."""
    for base in Path(__file__).resolve().parents:
        candidate = base.joinpath("shared", *parts)
        if candidate.exists():
            return candidate
    return None


CORPUS = _shared("corpus", "ofd-ses")
OFDRW = _shared("tools", "ofdrw", "ofdrw")


def corpus() -> Path:
    """The OFD/SES corpus directory, or skip."""
    if CORPUS is None:
        pytest.skip("shared/corpus/ofd-ses is not present next to the repository")
    return CORPUS


def ofdrw(*args: str | os.PathLike[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ofdrw reference CLI, or skip when it (or java) is not available."""
    if OFDRW is None:
        pytest.skip("shared/tools/ofdrw is not present next to the repository")
    if shutil.which("java") is None:
        pytest.skip("java is not installed (apt-get install openjdk-17-jre-headless)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(OFDRW), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
