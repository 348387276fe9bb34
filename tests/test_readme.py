"""The README is a public contract: every ``sh`` block runs, in order, as a newcomer would paste it.

Each command line of every ```` ```sh ```` block runs in one bash session (so ``. .venv/bin/activate``
and ``export`` carry over) in a fresh temporary directory holding a copy of ``examples/`` and the
README, with ``.venv`` pointing at the environment running the tests. A command must exit 0 unless its
comment says ``# exit N``. A block that must not run here is preceded by
``<!-- readme-test: skip (reason) -->``; any other marker, or a skip without a reason, fails.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<marker>[^\n]*?) -->\n)?```sh\n(?P<body>.*?)```", re.S)
EXPECT = re.compile(r"#.*?\bexit (\d+)\b")
SKIP = re.compile(r"skip \(.{8,}\)")
CPU_BUDGET_S = 60.0
"""CPU seconds (user + system) all the README's commands may use. CPU, not wall time: on a shared machine the
wall time of the same run varies 2-3x (measured 40 s CPU; 100-165 s wall with other jobs running)."""


@dataclass(frozen=True)
class Command:
    line: int
    """Line number in README.md."""
    text: str
    expected: int


def readme_commands(text: str) -> tuple[list[Command], list[str]]:
    """Commands to run (in order) and the reasons of the skipped blocks."""
    commands: list[Command] = []
    skipped: list[str] = []
    for m in BLOCK.finditer(text):
        marker = m.group("marker")
        if marker is not None:
            assert SKIP.fullmatch(marker), f"README.md: unknown readme-test marker {marker!r}"
            skipped.append(marker)
            continue
        first = text.count("\n", 0, m.start("body")) + 1
        for offset, raw in enumerate(m.group("body").splitlines()):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            assert not line.endswith("\\"), f"README.md:{first + offset}: keep each command on one line"
            expected = EXPECT.search(line)
            commands.append(Command(first + offset, line, int(expected.group(1)) if expected else 0))
    return commands, skipped


def test_readme_blocks_are_all_accounted_for() -> None:
    text = README.read_text("utf-8")
    commands, skipped = readme_commands(text)
    assert text.count("```sh") == len(list(BLOCK.finditer(text)))
    assert len(commands) >= 40 and all(s.startswith("skip (") for s in skipped)
    for c in commands:  # placeholders a newcomer cannot paste
        assert "…" not in c.text.split("#")[0] and " ID " not in f" {c.text} " and "..." not in c.text.split("#")[0], c
        assert not re.search(r"\s\|\s*(trust|elicense)\s", c.text.split("#")[0].replace("| elicense verify -", "")), c


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    commands, _ = readme_commands(README.read_text("utf-8"))
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("*.report.csv", "__pycache__"))
    shutil.copy(README, work / "README.md")
    (work / ".venv").symlink_to(Path(sys.prefix))  # ". .venv/bin/activate" and ".venv/bin/elicense" work as written
    logs = tmp_path / "logs"
    logs.mkdir()
    codes = tmp_path / "codes"
    script = ["cd " + shlex.quote(str(work))]
    for i, c in enumerate(commands):
        script.append(f"{{ {c.text}\n}} > {shlex.quote(str(logs / f'{i}.log'))} 2>&1 < /dev/null")
        script.append(f'echo "{i} $? $EPOCHREALTIME" >> {shlex.quote(str(codes))}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELICENSE_") and k != "VIRTUAL_ENV"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    start, cpu0 = time.monotonic(), _children_cpu()
    subprocess.run(["bash", "-c", "\n".join(script)], env=env, timeout=900, check=False)
    took, cpu = time.monotonic() - start, _children_cpu() - cpu0
    rows = [line.split() for line in codes.read_text().splitlines()]
    got = {r[0]: r[1] for r in rows}
    ends = [float(r[2]) for r in rows]
    slowest = sorted(
        ((b - a, commands[i + 1].text[:90]) for i, (a, b) in enumerate(itertools.pairwise(ends))), reverse=True
    )
    print("slowest README commands:", *(f"{t:5.1f} s  {c}" for t, c in slowest[:5]), sep="\n  ", file=sys.stderr)
    failures = []
    for i, c in enumerate(commands):
        code = int(got.get(str(i), "-1"))
        if code != c.expected:
            out = (logs / f"{i}.log").read_text("utf-8", "replace")[-600:]
            failures.append(f"README.md:{c.line}: exit {code}, expected {c.expected}: {c.text}\n{out}")
    assert not failures, "\n\n".join(failures)
    print(f"{len(commands)} README commands in {took:.1f} s ({cpu:.1f} s CPU)", file=sys.stderr)
    assert cpu < CPU_BUDGET_S, f"the README's commands took {cpu:.0f} s of CPU"


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
