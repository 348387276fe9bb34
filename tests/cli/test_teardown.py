"""A batch ends without the interpreter's teardown (0.15–0.35 s of freeing modules, #22), and only when that
loses nothing: every exit handler still runs, the output is whole, and a program that registered a handler
of its own before calling ``main()`` keeps the full teardown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import registry_support as rs

SPY = """
import atexit, os, sys
import elicense.cli.common as common

class Witness:
    def __del__(self, write=os.write):  # bound now: the teardown may have cleared this module's names
        write(2, b"teardown ran\\n")

witness = Witness()  # freed by the teardown only
_said = common.nothing_left_open

def spy(done=True):
    if done:  # during the command, after its job: a handler registered now must still run
        atexit.register(print, "exit handler ran", flush=True)
    _said(done)

common.nothing_left_open = spy
"""


def _cli(code: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(code) + "\nfrom elicense.cli import main\nsys.argv[0] = 'elicense'\nmain()\n"
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300)


def _batch(tmp_path: Path) -> list[str]:
    home = rs.demo_home(tmp_path / "home")
    batch = tmp_path / "batch.csv"
    rows = [rs.row(i) for i in range(20)]
    rows[7][3] = ""  # one rejected row: exit 1, and a report file written
    batch.write_bytes(rs.csv_bytes(rows))
    return ["issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--json", "--no-progress"]


def test_nothing_that_the_cli_imports_registers_an_exit_handler_before_main() -> None:
    """:func:`elicense.cli.main` skips the teardown only from the first exit handler (the one that runs
    last): a handler registered by what ``elicense.cli`` imports would turn the skip off for every batch."""
    out = subprocess.run(
        [sys.executable, "-c", "import atexit, elicense.cli; print(atexit._ncallbacks())"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert out.stdout.strip() == "0"


def test_a_batch_ends_after_every_exit_handler_without_the_teardown(tmp_path: Path) -> None:
    args = _batch(tmp_path)
    done = _cli(SPY, args)
    assert done.returncode == 1, done.stderr  # a rejected row
    report, handler = done.stdout.splitlines()
    assert json.loads(report)["issued"] == 19
    assert handler == "exit handler ran"
    assert "teardown ran" not in done.stderr
    assert (tmp_path / "batch.csv.report.csv").read_text(encoding="utf-8").count("\n") == 2
    home = Path(args[args.index("--home") + 1])
    assert sorted(p.name for p in home.glob("registry.sqlite*")) == ["registry.sqlite", "registry.sqlite.lock"]


def test_a_handler_registered_before_main_keeps_the_full_teardown(tmp_path: Path) -> None:
    done = _cli("import atexit\natexit.register(print, 'registered before main', flush=True)\n" + SPY, _batch(tmp_path))
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[1:] == ["exit handler ran", "registered before main"]
    assert "teardown ran" in done.stderr


def test_a_failed_batch_keeps_the_full_teardown(tmp_path: Path) -> None:
    args = _batch(tmp_path)
    args[args.index("--type") + 1] = "no-such-type"
    done = _cli(SPY, args)
    assert done.returncode == 3
    assert "teardown ran" in done.stderr


def test_a_click_free_verify_ends_without_the_teardown(tmp_path: Path) -> None:
    """The same last exit handler ends a verify that took the click-free path (#8: the teardown, ~20 ms,
    took longer than the verification)."""
    from elicense.demo import build_demo

    world = build_demo(tmp_path / "demo", now=rs.NOW, seed=b"teardown", images=False, pdf=False)
    payload = next(iter(world.issued.values())).qr_payload
    qr = tmp_path / "one.qr.txt"
    qr.write_text(payload + "\n", encoding="ascii")
    args = ["verify", str(qr), "--trust", str(world.home.path / "trust-bundle.cose"), "--json"]
    done = _cli(SPY, args)
    assert json.loads(done.stdout)["input"] == str(qr), done.stderr
    assert "teardown ran" not in done.stderr
