"""``elicense verify --batch FILE --workers N`` (#8): same lines, same order, same exit code as one worker."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from elicense.cli import run
from elicense.cli import verify as cli_verify

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
AT = "2026-06-01T08:00:00Z"


def _presentation(world: Any) -> str:
    from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation

    issued = world.issued["business-licence-jinan"]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1))
    return make_presentation(cred, device, show=["holder_name"], now=NOW).payload


def _mixed_file(world: Any, path: Path) -> Path:
    valid = world.issued["business-licence-jinan"].qr_payload
    revoked = world.issued["business-licence-revoked"].qr_payload
    expired = world.issued["food-business-licence-expired"].qr_payload
    presentation = _presentation(world)
    lines = [
        valid, "", revoked, "garbage", "EL2:" + "A" * 99, expired, "  " + valid + "  ",
        presentation, "中文".encode().decode(), valid, presentation,  # the second showing is a replay
        "x" * (cli_verify.MAX_BATCH_LINE + 10), valid[:-5], valid, "EL2:", revoked,
    ] * 3  # fmt: skip
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe bad bytes\n" + valid.encode())
    return path


def _run_batch(batch: Path, trust: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = run(["verify", "--batch", str(batch), "--trust", str(trust), "--at", AT, "--workers", str(workers)])
    return code, capsys.readouterr().out


def test_two_workers_give_the_output_of_one(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_verify, "BATCH_CHUNK", 4)  # many chunks: ordering across workers and read-ahead
    batch = _mixed_file(world, tmp_path / "mixed.txt")
    code1, out1 = _run_batch(batch, world.trust_file, 1, capsys)
    code2, out2 = _run_batch(batch, world.trust_file, 2, capsys)
    code3, out3 = _run_batch(batch, world.trust_file, 3, capsys)
    assert out1 == out2 == out3
    assert code1 == code2 == code3 == 3  # worst seen: the oversized and non-ASCII lines are errors
    rows = [json.loads(line) for line in out1.splitlines()]
    assert [r["line"] for r in rows] == sorted(r["line"] for r in rows)  # input order
    statuses = {r["status"] for r in rows}
    assert statuses == {"VALID", "INVALID", "ERROR"}
    codes = [c["code"] for r in rows for c in r["reasons"]]
    assert codes.count("presentation_replayed") == 5  # one process sees every presentation, in order
    assert {"licence_revoked", "licence_expired", "payload_malformed"} <= set(codes)
    errors = [r["error"]["code"] for r in rows if r["status"] == "ERROR"]
    # three oversized lines, three Chinese lines and the non-UTF-8 one (not ASCII), three "garbage" lines
    # (no licence at all: an input error, not a forgery, #20)
    assert len(errors) == 10


def test_workers_exit_code_is_the_worst_seen(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "b.txt"
    valid = world.issued["business-licence-jinan"].qr_payload
    batch.write_text(f"{valid}\n{valid}\n")
    assert _run_batch(batch, world.trust_file, 2, capsys)[0] == 0
    batch.write_text(f"{valid}\n{world.issued['business-licence-revoked'].qr_payload}\n{valid}\n")
    code, out = _run_batch(batch, world.trust_file, 2, capsys)
    assert code == 1 and len(out.splitlines()) == 3


def test_workers_need_batch(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "x.qr.txt"
    text.write_text(world.issued["business-licence-jinan"].qr_payload)
    assert run(["verify", str(text), "--trust", str(world.trust_file), "--workers", "2"]) == 3
    assert "--workers" in capsys.readouterr().err
    assert run(["verify", "--batch", str(text), "--trust", str(world.trust_file), "--workers", "0"]) == 3


def test_workers_read_stdin(world, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import io
    import sys

    valid = world.issued["business-licence-jinan"].qr_payload
    data = f"{valid}\ngarbage\n{valid}\n".encode()
    outs = []
    for workers in (1, 2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = run(["verify", "--batch", "-", "--trust", str(world.trust_file), "--at", AT, "--workers", str(workers)])
        outs.append((code, capsys.readouterr().out))
    assert outs[0] == outs[1] and outs[0][0] == 3 and len(outs[0][1].splitlines()) == 3  # "garbage": exit 3


def test_spawn_workers_rebuild_the_verifier(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where fork is unavailable the workers load the same trust with the same options: same output."""
    import multiprocessing

    batch = tmp_path / "b.txt"
    lines = [world.issued[n].qr_payload for n in ("business-licence-jinan", "business-licence-revoked")] + ["junk"]
    batch.write_text("\n".join(lines * 3) + "\n")
    code1, out1 = _run_batch(batch, world.trust_file, 1, capsys)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    code2, out2 = _run_batch(batch, world.trust_file, 2, capsys)
    assert (code1, out1) == (code2, out2) and code1 == 3  # "junk" is no licence: an input error


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_batch_lines_are_the_json_of_to_dict(
    world, tmp_path: Path, lang: str, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """``--batch`` writes ``to_json``; each line must be ``json.dumps({"line": n, **to_dict()})`` exactly."""
    from elicense.verify import Verifier
    from elicense.verify.inputs import looks_like_payload

    batch = _mixed_file(world, tmp_path / "mixed.txt")
    capsys.readouterr()
    run(["verify", "--batch", str(batch), "--trust", str(world.trust_file), "--at", AT, "--lang", lang])
    out = capsys.readouterr().out.splitlines()
    verifier = Verifier.from_trust_file(world.trust_file)  # a fresh replay cache, as the CLI run had
    texts = batch.read_bytes().split(b"\n")
    checked = 0
    for line in out:
        number = json.loads(line)["line"]
        text = texts[number - 1].strip()
        if len(text) > cli_verify.MAX_BATCH_LINE or not text.isascii() or not looks_like_payload(text.decode()):
            continue  # error lines: no verification result
        result = verifier.verify(text.decode(), at=NOW)
        expected = json.dumps({"line": number, **result.to_dict(lang)}, ensure_ascii=False)
        assert line == expected  # --at fixes verified_at
        checked += 1
    assert checked > 30
