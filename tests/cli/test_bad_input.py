"""Every CLI command under bad input: one line on stderr (zh or en), exit code ≥ 3, no traceback, nothing written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from elicense.cli import EXIT_ERROR, EXIT_INTERNAL, run

NOW = "2026-06-01T08:00:00+00:00"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A demo home and hostile files next to it."""
    import datetime as dt

    from elicense.demo import build_demo

    root = tmp_path_factory.mktemp("badinput")
    home = root / "home"
    world = build_demo(home, now=dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC), seed=b"bad-input", images=False, pdf=False)
    files = root / "files"
    files.mkdir()
    (files / "garbage.bin").write_bytes(b"\xff\xfe\x00garbage\x89PNG" * 10)
    (files / "latin1.txt").write_bytes("EL2:caf\xe9".encode("latin-1"))
    (files / "empty.txt").write_bytes(b"")
    (files / "bad.csv").write_text("no,such,columns\n1,2,3\n", encoding="utf-8")
    (files / "ragged.csv").write_text('source_id,"unterminated\n', encoding="utf-8")
    (files / "bad.json").write_text('{"format": "not-elicense"', encoding="utf-8")
    (files / "list.json").write_text("[1, 2, 3]", encoding="utf-8")
    (files / "a-dir").mkdir()
    (files / "fake-home").mkdir()
    (files / "fake-home" / "home.json").write_bytes(b"\x00\x01 not json")
    with (files / "huge.txt").open("wb") as fh:  # sparse: 65 MiB of zeros costs nothing on disk
        fh.truncate(65 * 1024 * 1024)
    issued = world.issued["business-licence-jinan"]
    lic = home / "licences" / "business-licence-jinan.qr.txt"
    return {
        "root": root,
        "home": str(home),
        "trust": str(world.trust_file),
        "lic": str(lic),
        "id": str(issued.licence.id),
        "files": files,
        "unknown_id": str(issued.licence.id)[:-6] + "999999",  # well-formed prefix, not in the registry
    }


def _fill(args: list[str], env: dict[str, Any], out: Path) -> list[str]:
    f: Path = env["files"]
    values = {
        "home": env["home"],
        "trust": env["trust"],
        "lic": env["lic"],
        "id": env["id"],
        "unknown": env["unknown_id"],
        "garbage": str(f / "garbage.bin"),
        "latin1": str(f / "latin1.txt"),
        "empty": str(f / "empty.txt"),
        "badcsv": str(f / "bad.csv"),
        "ragged": str(f / "ragged.csv"),
        "badjson": str(f / "bad.json"),
        "listjson": str(f / "list.json"),
        "dir": str(f / "a-dir"),
        "fakehome": str(f / "fake-home"),
        "huge": str(f / "huge.txt"),
        "missing": str(f / "no-such-file"),
        "out": str(out),
    }
    return [a.format(**values) for a in args]


# (id, argv); {out} is a fresh directory that must stay empty.
CASES: list[tuple[str, list[str]]] = [
    # verify
    ("verify-missing-file", ["verify", "{missing}", "--trust", "{trust}"]),
    ("verify-directory", ["verify", "{dir}", "--trust", "{trust}"]),
    ("verify-garbage-file", ["verify", "{garbage}", "--trust", "{trust}"]),
    ("verify-empty-file", ["verify", "{empty}", "--trust", "{trust}"]),
    ("verify-non-utf8-text", ["verify", "{latin1}", "--trust", "{trust}"]),
    ("verify-too-large", ["verify", "{huge}", "--trust", "{trust}"]),
    ("verify-garbage-trust", ["verify", "{lic}", "--trust", "{garbage}"]),
    ("verify-bad-json-trust", ["verify", "{lic}", "--trust", "{badjson}"]),
    ("verify-list-json-trust", ["verify", "{lic}", "--trust", "{listjson}"]),
    ("verify-missing-trust", ["verify", "{lic}", "--trust", "{missing}"]),
    ("verify-directory-trust", ["verify", "{lic}", "--trust", "{dir}"]),
    ("verify-bad-at", ["verify", "{lic}", "--trust", "{trust}", "--at", "yesterday"]),
    ("verify-bad-at-date", ["verify", "{lic}", "--trust", "{trust}", "--at", "2026-13-45T99:00:00Z"]),
    ("verify-bad-region", ["verify", "{lic}", "--trust", "{trust}", "--region", "99"]),
    ("verify-bad-accept-region", ["verify", "{lic}", "--trust", "{trust}", "--accept-region", "abc"]),
    ("verify-unknown-alg", ["verify", "{lic}", "--trust", "{trust}", "--allow-alg", "none"]),
    ("verify-state-is-a-file", ["verify", "{lic}", "--trust", "{trust}", "--state", "{garbage}"]),
    ("verify-batch-missing", ["verify", "--batch", "{missing}", "--trust", "{trust}"]),
    ("verify-bad-lang", ["verify", "{lic}", "--trust", "{trust}", "--lang", "fr"]),
    ("verify-unknown-flag", ["verify", "{lic}", "--trust", "{trust}", "--no-such-flag"]),
    # issue
    ("issue-missing-home", ["issue", "--home", "{missing}", "--type", "business-licence", "--field", "a=b"]),
    ("issue-home-is-a-file", ["issue", "--home", "{garbage}", "--type", "business-licence", "--field", "a=b"]),
    ("issue-corrupt-home", ["issue", "--home", "{fakehome}", "--type", "business-licence", "--field", "a=b"]),
    ("issue-not-a-home", ["issue", "--home", "{dir}", "--type", "business-licence", "--field", "a=b"]),
    ("issue-unknown-type", ["issue", "--home", "{home}", "--type", "no-such-type", "--field", "a=b"]),
    ("issue-unknown-field", ["issue", "--home", "{home}", "--type", "business-licence", "--field", "a=b"]),
    ("issue-field-without-equals", ["issue", "--home", "{home}", "--type", "business-licence", "--field", "ab"]),
    ("issue-garbage-json", ["issue", "--home", "{home}", "--type", "business-licence", "--from-json", "{garbage}"]),
    ("issue-list-json", ["issue", "--home", "{home}", "--type", "business-licence", "--from-json", "{listjson}"]),
    ("issue-batch-missing", ["issue", "--home", "{home}", "--type", "business-licence", "--batch", "{missing}"]),
    (
        "issue-batch-binary",
        [
            "issue",
            "--home",
            "{home}",
            "--type",
            "business-licence",
            "--batch",
            "{garbage}",
            "--report",
            "{out}/report.csv",
        ],
    ),
    (
        "issue-batch-bad-columns",
        [
            "issue",
            "--home",
            "{home}",
            "--type",
            "business-licence",
            "--batch",
            "{badcsv}",
            "--report",
            "{out}/report.csv",
        ],
    ),
    (
        "issue-batch-ragged",
        [
            "issue",
            "--home",
            "{home}",
            "--type",
            "business-licence",
            "--batch",
            "{ragged}",
            "--report",
            "{out}/report.csv",
        ],
    ),
    (
        "issue-batch-too-large",
        [
            "issue",
            "--home",
            "{home}",
            "--type",
            "business-licence",
            "--batch",
            "{huge}",
            "--report",
            "{out}/report.csv",
        ],
    ),
    (
        "issue-bad-workers",
        ["issue", "--home", "{home}", "--type", "business-licence", "--batch", "{badcsv}", "--workers", "0"],
    ),
    # status changes
    ("revoke-malformed-id", ["revoke", "NOPE", "--home", "{home}"]),
    ("revoke-unknown-id", ["revoke", "{unknown}", "--home", "{home}"]),
    ("revoke-bad-reason", ["revoke", "{id}", "--home", "{home}", "--reason", "because"]),
    ("revoke-bad-effective", ["revoke", "{id}", "--home", "{home}", "--effective", "tomorrow"]),
    ("suspend-unknown-id", ["suspend", "{unknown}", "--home", "{home}"]),
    ("suspend-bad-effective", ["suspend", "{id}", "--home", "{home}", "--effective", "2026-02-30"]),
    ("reinstate-not-suspended", ["reinstate", "{id}", "--home", "{home}"]),
    ("supersede-unknown-new", ["supersede", "{id}", "--with", "{unknown}", "--home", "{home}"]),
    ("status-show-bad-at", ["status", "show", "{id}", "--home", "{home}", "--at", "nope"]),
    ("status-show-unknown-id", ["status", "show", "{unknown}", "--home", "{home}"]),
    ("status-publish-garbage-trust-file", ["status", "publish", "--home", "{home}", "--trust-file", "{garbage}"]),
    ("status-publish-list-trust-file", ["status", "publish", "--home", "{home}", "--trust-file", "{listjson}"]),
    ("status-revoke-cert-unknown-authority", ["status", "revoke-cert", "--home", "{home}", "--authority", "nobody"]),
    # registry, audit
    ("registry-list-bad-limit", ["registry", "list", "--home", "{home}", "--limit", "0"]),
    ("registry-list-bad-status", ["registry", "list", "--home", "{home}", "--status", "lost"]),
    ("registry-show-not-a-home", ["registry", "show", "{id}", "--home", "{dir}"]),
    ("registry-show-unknown-id", ["registry", "show", "{unknown}", "--home", "{home}"]),
    ("audit-verify-not-a-home", ["audit", "verify", "--home", "{dir}"]),
    ("audit-log-bad-since", ["audit", "log", "--home", "{home}", "--since", "-1"]),
    # render, present
    ("render-unknown-licence", ["render", "--home", "{home}", "--licence", "{unknown}", "-o", "{out}/x.pdf"]),
    (
        "render-garbage-font",
        ["render", "--home", "{home}", "--licence", "{id}", "-o", "{out}/x.pdf", "--font", "{garbage}"],
    ),
    (
        "render-bad-level",
        ["render", "--home", "{home}", "--licence", "{id}", "-o", "{out}/x.pdf", "--pdf-level", "B-X"],
    ),
    ("present-malformed-id", ["present", "NOPE", "--home", "{home}"]),
    ("present-unknown-field", ["present", "{id}", "--home", "{home}", "--show", "no_such_field"]),
    ("present-bad-at", ["present", "{id}", "--home", "{home}", "--at", "noon"]),
    ("present-bad-ttl", ["present", "{id}", "--home", "{home}", "--ttl", "0"]),
    # trust and bundles
    ("trust-show-garbage", ["trust", "show", "{garbage}"]),
    ("trust-show-json-file", ["trust", "show", "{badjson}"]),
    ("trust-show-directory", ["trust", "show", "{dir}"]),
    ("trust-show-too-large", ["trust", "show", "{huge}"]),
    ("verify-trust-too-large", ["verify", "{lic}", "--trust", "{huge}"]),
    ("trust-show-bad-at", ["trust", "show", "{trust}", "--at", "soon"]),
    ("trust-update-garbage-new", ["trust", "update", "{trust}", "{garbage}"]),
    ("trust-update-garbage-current", ["trust", "update", "{garbage}", "{trust}"]),
    ("trust-export-garbage", ["trust", "export", "{garbage}", "{out}/export"]),
    ("bundle-bad-at", ["bundle", "--home", "{home}", "-o", "{out}/b.cose", "--at", "never"]),
    ("bundle-not-a-home", ["bundle", "--home", "{dir}", "-o", "{out}/b.cose"]),
    ("bundle-bad-validity", ["bundle", "--home", "{home}", "-o", "{out}/b.cose", "--validity-days", "0"]),
    # demo, kiosk, id, sm2
    ("demo-onto-a-file", ["demo", "{garbage}"]),
    ("demo-non-empty-dir", ["demo", "{home}"]),
    ("demo-bad-alg", ["demo", "{out}/demo", "--alg", "rot13"]),
    ("kiosk-garbage-trust", ["kiosk", "--trust", "{garbage}", "--port", "0"]),
    ("kiosk-bad-port", ["kiosk", "--trust", "{trust}", "--port", "99999"]),
    ("id-check-no-value", ["id", "check"]),
    ("sm2-verify-garbage-trust", ["sm2", "verify", "{lic}", "--trust", "{garbage}"]),
    ("sm2-seal-not-sm2-home", ["sm2", "seal", "{lic}", "--home", "{home}"]),
    ("sm2-seal-missing-file", ["sm2", "seal", "{missing}", "--home", "{home}"]),
    ("seal-inspect-garbage", ["seal", "inspect", "{garbage}"]),
    ("seal-inspect-missing-file", ["seal", "inspect", "{missing}"]),
    ("seal-verify-garbage-seal-makers", ["seal", "verify", "{garbage}", "--seal-makers", "{garbage}"]),
    ("seal-verify-missing-root", ["seal", "verify", "{garbage}", "--root", "{missing}"]),
    ("unknown-command", ["no-such-command"]),
]


_SQLITE_SIDECARS = ("-wal", "-shm", "-journal", ".lock")


def _snapshot(*dirs: Path) -> dict[str, tuple[int, str]]:
    """Every file's size and digest; an SQLite database by its logical content (a dump), since any
    connection closing (the command's, or a garbage-collected one) may checkpoint its WAL into the file
    and delete the WAL: bytes move, data does not."""
    out: dict[str, tuple[int, str]] = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.name.endswith(_SQLITE_SIDECARS):
                continue  # SQLite's WAL, shared-memory index, rollback journal, writers' lock: the database is compared
            if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\0":
                with contextlib.closing(sqlite3.connect(p)) as db:
                    out[str(p)] = (0, hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest())
            elif p.is_file() and p.stat().st_size < 1 << 20:
                out[str(p)] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[str(p)] = (p.stat().st_size if p.is_file() else -1, "")
    return out


def _check_one_line(err: str, code: int) -> str:
    assert code >= EXIT_ERROR, f"exit {code}: {err!r}"
    assert code != EXIT_INTERNAL, f"internal error: {err!r}"
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("elicense:"), lines[0]
    return lines[0]


@pytest.mark.parametrize(("argv"), [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_3_nothing_written(
    argv: list[str],
    env: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ELICENSE_LANG", "en")
    monkeypatch.delenv("ELICENSE_TRUST", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(Path(env["root"]))
    code = run(_fill(argv, env, out))
    captured = capsys.readouterr()
    _check_one_line(captured.err, code)
    assert captured.out == "", captured.out
    assert list(out.iterdir()) == [], "an error left files behind"
    assert _snapshot(Path(env["root"])) == before, "an error changed the home or the input files"


# Errors that have a Chinese message: with --lang zh (or a Chinese locale) the line is in Chinese.
ZH_CASES = [
    ["verify", "{lic}", "--trust", "{garbage}", "--lang", "zh"],  # raised outside verify's per-input loop
    ["verify", "{lic}", "--trust", "{missing}", "--lang", "zh"],
    ["verify", "{garbage}", "--trust", "{trust}", "--lang", "zh"],
    ["trust", "show", "{garbage}", "--lang", "zh"],
    ["sm2", "verify", "{lic}", "--trust", "{garbage}", "--lang", "zh"],
]


@pytest.mark.parametrize("argv", ZH_CASES, ids=lambda a: "-".join(x for x in a[:2] if "{" not in x))
def test_errors_follow_lang_flag(
    argv: list[str],
    env: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ELICENSE_LANG", "en")  # the flag wins over the environment
    zh = _check_one_line(_run_err(argv, env, tmp_path, capsys), 3)
    assert CJK.search(zh), zh
    en = _check_one_line(
        _run_err([a for a in argv if a not in ("--lang", "zh")] + ["--lang", "en"], env, tmp_path, capsys), 3
    )
    assert not CJK.search(en), en


def _run_err(argv: list[str], env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = run(_fill(argv, env, tmp_path))
    err = capsys.readouterr().err
    assert code == EXIT_ERROR, (code, err)
    return err


@pytest.mark.parametrize("lang_env", ["LANG", "LC_ALL", "ELICENSE_LANG"])
def test_errors_follow_the_locale(
    lang_env: str,
    env: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("ELICENSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(lang_env, "zh_CN.UTF-8")
    for argv in (
        ["status", "publish", "--home", "{home}", "--trust-file", "{garbage}"],
        ["verify", "{lic}", "--trust", "{garbage}"],
        ["trust", "update", "{trust}", "{garbage}"],
    ):
        line = _check_one_line(_run_err(argv, env, tmp_path, capsys), 3)
        assert CJK.search(line), line


def test_no_traceback_in_a_real_process(env: dict[str, Any], tmp_path: Path) -> None:
    """The console script itself: a non-UTF-8 file name, a binary file, a bad flag; Chinese via LANG."""
    bad_name = os.fsencode(str(tmp_path)) + b"/\xff\xfe-licence.txt"
    exe = [sys.executable, "-m", "elicense.cli"]
    base = {k: v for k, v in os.environ.items() if k not in ("ELICENSE_LANG", "LC_ALL", "LC_MESSAGES")}
    for argv, lang in (
        ([bad_name, b"--trust", env["trust"].encode()], "en_US.UTF-8"),
        ([b"verify", env["lic"].encode(), b"--trust", str(env["files"] / "garbage.bin").encode()], "zh_CN.UTF-8"),
        ([b"verify", env["lic"].encode(), b"--at", b"\xff"], "C.UTF-8"),
    ):
        args = [*exe, "verify", *argv] if argv[0] == bad_name else [*exe, *argv]
        proc = subprocess.run(args, capture_output=True, env={**base, "LANG": lang}, timeout=120, check=False)
        err = proc.stderr.decode("utf-8", "replace")
        line = _check_one_line(err, proc.returncode)
        assert proc.stdout == b""
        if lang.startswith("zh"):
            assert CJK.search(line), line
    assert list(tmp_path.iterdir()) == []


def test_unreadable_input_names_the_file_once(
    env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(env["files"] / "no-such-file")
    line = _check_one_line(
        _run_err(["verify", missing, "--trust", "{trust}", "--lang", "en"], env, tmp_path, capsys), 3
    )
    assert line.count(missing) == 1, line
