"""The shipped batch example runs and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_issue_batch_example(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "issue_batch.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "15 issued, 3 rejected" in out.stdout and "0 issued, 15 already issued" in out.stdout
    assert "audit log : intact" in out.stdout


def test_issue_batch_example_report_survives_the_script(tmp_path: Path) -> None:
    """Without WORKDIR the script's report path still exists when it has finished (#20)."""
    import os
    import re
    import shutil

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "issue_batch.py")],
                         capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    report = re.search(r"rejected -> (\S+)", out.stdout)
    assert report is not None and Path(report.group(1)).is_file()
    assert "JN1998" in Path(report.group(1)).read_text("utf-8")
    shutil.rmtree(Path(report.group(1)).parent)
