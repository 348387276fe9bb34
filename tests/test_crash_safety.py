"""Crash safety: ``kill -9`` at named points of issuance, revocation, bundle/trust update and batch import.

The real CLI runs in a subprocess with ``ELICENSE_TEST_CRASH_AT=<point>[:N]``; :func:`elicense._crashpoint`
SIGKILLs it there (no ``finally``, no flush). Afterwards every file is either its old or its new content,
the registry holds whole rows only (old or new state), the audit chain still verifies, and a re-run
finishes the job without duplicates. The only trace a crash may leave is an ``atomic_write`` temporary
(``.NAME.XXXX``, hidden, never read).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from elicense.cli import run
from registry_support import csv_bytes, demo_home, row

TYPE = "business-licence"


def _cli(*args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ELICENSE_TEST_CRASH_AT"}
    if crash:
        env["ELICENSE_TEST_CRASH_AT"] = crash
    env["ELICENSE_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-m", "elicense.cli", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _killed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)


def _files(root: Path) -> dict[str, str]:
    """Every regular file below ``root`` (SQLite's own journal files aside) → SHA-256."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith("registry.sqlite"):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _only_temporaries(before: dict[str, str], after: dict[str, str], allowed_new: set[str] = frozenset()) -> None:
    """Files are unchanged except ``allowed_new`` (whole) and hidden ``atomic_write`` temporaries."""
    for name, digest in before.items():
        assert after.get(name) == digest, f"{name} changed or vanished"
    for name in set(after) - set(before) - set(allowed_new):
        assert Path(name).name.startswith("."), f"unexpected new file {name}"


def _registry_state(home: Path) -> tuple[int, list[str]]:
    """(licences, statuses) and the audit verdict via the real CLI code path."""
    from elicense.home import Home
    from elicense.registry import url_for
    from elicense.registry.core import Registry

    with Registry.open(url_for(Home.load(home), None)) as reg:
        records = reg.query(limit=None)
        statuses = sorted(r.status.value if hasattr(r.status, "value") else str(r.status) for r in records)
        return len(records), statuses


def _audit_ok(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run(["audit", "verify", "--home", str(home), "--json"]) == 0, capsys.readouterr()
    capsys.readouterr()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return demo_home(tmp_path / "home")


def _issue_args(home: Path, out: Path, i: int) -> list[str]:
    r = row(i, prefix="CR")
    names = ["source_id", "number", "holder_name", "holder_code", "issued_on", "entity_type",
             "legal_representative", "registered_capital", "capital_currency", "establishment_date",
             "domicile", "business_scope"]  # fmt: skip
    fields = [a for k, v in zip(names, r, strict=True) for a in ("--field", f"{k}={v}")]
    return ["issue", "--home", str(home), "--type", TYPE, "--out", str(out), "--no-progress", *fields]


@pytest.mark.parametrize(
    ("point", "committed"),
    [("issue.before_commit", False), ("issue.after_commit", True), ("atomic_write.before_replace", True)],
)
def test_issue_killed(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], point: str, committed: bool
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert run(_issue_args(home, out, 1)) == 0  # a first licence, so there is an old state
    capsys.readouterr()
    before_files, (before_n, _) = _files(home) | _files(out), _registry_state(home)
    _killed(_cli(*_issue_args(home, out, 2), crash=point))
    n, _ = _registry_state(home)
    assert n == before_n + (1 if committed else 0)
    _audit_ok(home, capsys)
    _only_temporaries(before_files, _files(home) | _files(out))
    assert len(list(out.glob("*.qr.txt"))) == 1  # the crashed run's file is not there, not even half
    # re-running finishes the job: one new licence, its file written, nothing duplicated
    done = _cli(*_issue_args(home, out, 2))
    assert done.returncode == 0, done.stderr
    assert _registry_state(home)[0] == before_n + 1
    files = sorted(out.glob("*.qr.txt"))
    assert len(files) == 2 and all(f.read_text().startswith("EL2:") for f in files)
    _audit_ok(home, capsys)


@pytest.mark.parametrize(("point", "revoked"), [("registry.before_commit", False), ("registry.after_commit", True)])
def test_revoke_killed(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], point: str, revoked: bool
) -> None:
    assert run([*_issue_args(home, tmp_path, 3), "--json"]) == 0
    lid = json.loads(capsys.readouterr().out)["id"]
    _killed(_cli("revoke", lid, "--home", str(home), "--note", "crash test", crash=point))
    _, statuses = _registry_state(home)
    assert statuses == (["revoked"] if revoked else ["valid"])
    _audit_ok(home, capsys)
    assert run(["status", "show", lid, "--home", str(home), "--json"]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    assert [e["action"] for e in history] == (["issue", "revoke"] if revoked else ["issue"])


@pytest.mark.parametrize("point", ["atomic_write.before_replace", "atomic_write.after_replace"])
def test_trust_update_killed(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], point: str) -> None:
    current, new = tmp_path / "current.cose", tmp_path / "new.cose"
    assert run(["bundle", "--home", str(home), "-o", str(current), "--no-status"]) == 0
    assert run(["bundle", "--home", str(home), "-o", str(new), "--no-status"]) == 0
    capsys.readouterr()
    old_bytes, new_bytes = current.read_bytes(), new.read_bytes()
    _killed(_cli("trust", "update", str(current), str(new), crash=point))
    assert current.read_bytes() == (old_bytes if point.endswith("before_replace") else new_bytes)
    assert run(["trust", "show", str(current)]) == 0  # whichever it is, it loads and verifies
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")} == {"current.cose", "new.cose", "home"}


def test_bundle_killed_keeps_old_bundle(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "trust-bundle.cose"
    assert run(["bundle", "--home", str(home), "-o", str(bundle), "--no-status"]) == 0
    capsys.readouterr()
    old = bundle.read_bytes()
    # 1st atomic write: home.json (the bumped sequence), 2nd: the bundle
    for point in ("atomic_write.before_replace:1", "atomic_write.before_replace:2"):
        _killed(_cli("bundle", "--home", str(home), "-o", str(bundle), "--no-status", crash=point))
        assert bundle.read_bytes() == old
        json.loads((home / "home.json").read_text())  # the home is whole, old or new
    assert run(["bundle", "--home", str(home), "-o", str(bundle), "--no-status"]) == 0
    assert bundle.read_bytes() != old
    assert run(["trust", "show", str(bundle)]) == 0


@pytest.mark.parametrize("point", ["issue.before_commit:2", "issue.after_commit:2"])
def test_batch_killed_mid_import(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], point: str) -> None:
    csv_file = tmp_path / "batch.csv"
    from elicense.registry.batch import DEFAULT_COMMIT_EVERY as per

    total = 2 * per + per // 2  # 3 transactions: per, per, per / 2
    csv_file.write_bytes(csv_bytes([row(i, prefix="B") for i in range(1, total + 1)]))
    args = ["issue", "--home", str(home), "--type", TYPE, "--batch", str(csv_file), "--workers", "1", "--no-progress"]
    _killed(_cli(*args, crash=point))
    n, _ = _registry_state(home)
    assert n == (per if point.startswith("issue.before_commit") else 2 * per)  # whole transactions only
    _audit_ok(home, capsys)
    done = _cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["issued"] == total - n and report["already_issued"] == n
    assert _registry_state(home)[0] == total
    _audit_ok(home, capsys)


def test_crashpoint_is_a_no_op_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from elicense import _crashpoint

    monkeypatch.delenv("ELICENSE_TEST_CRASH_AT", raising=False)
    _crashpoint("registry.before_commit")
    monkeypatch.setenv("ELICENSE_TEST_CRASH_AT", "some.other.point")
    _crashpoint("registry.before_commit")


def test_leftover_temporaries_are_never_read(home: Path, tmp_path: Path) -> None:
    """A temporary left by a crash inside atomic_write does not disturb the next write."""
    target = tmp_path / "f.bin"
    _killed(
        _cli("bundle", "--home", str(home), "-o", str(target), "--no-status", crash="atomic_write.before_replace:2")
    )
    assert not target.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".f.bin.")]
    assert leftovers  # the temporary the crash left behind
    assert _cli("bundle", "--home", str(home), "-o", str(target), "--no-status").returncode == 0
    assert target.read_bytes()[:1] == b"\xd2"
