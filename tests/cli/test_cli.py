"""The CLI contract end to end: demo → verify (text, image, stdin, batch), exit codes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elicense.cli import run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "demo"
    assert run(["demo", str(out)]) == 0
    return out


def trust_of(demo: Path) -> str:
    return str(next(demo.glob("trust-bundle*")))


def test_demo_layout(demo: Path) -> None:
    names = {p.name for p in (demo / "licences").iterdir()}
    assert "business-licence-jinan.qr.txt" in names and "business-licence-jinan.qr.png" in names
    assert any("expired" in n for n in names)
    assert len(list(demo.glob("trust-bundle*"))) == 1
    assert (demo / "home.json").exists()


def test_demo_refuses_non_empty_dir(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", str(demo)]) == 3
    assert "--force" in capsys.readouterr().err


def test_verify_text_json_valid(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = demo / "licences" / "business-licence-jinan.qr.txt"
    assert run(["verify", str(f), "--trust", trust_of(demo), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "VALID" and out["reasons"] == []
    lic = out["licence"]
    for key in ("id", "type_code", "holder", "issuer", "region", "valid_from", "valid_until"):
        assert key in lic
    assert lic["region"] == "370000" and lic["issuer"] == "济南市行政审批服务局"


def test_verify_image_and_expired(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lic = demo / "licences"
    code = run(
        [
            "verify",
            str(lic / "resident-id-card-nanjing.qr.png"),
            str(lic / "food-business-licence-expired.qr.txt"),
            "--trust",
            trust_of(demo),
            "--json",
            "--lang",
            "zh",
        ]
    )
    assert code == 1  # the worst of VALID and INVALID
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in rows] == ["VALID", "INVALID"]
    assert rows[1]["reasons"][0]["code"] == "licence_expired" and "过期" in rows[1]["reasons"][0]["message"]


def test_verify_trust_from_environment(
    demo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELICENSE_TRUST", trust_of(demo))
    assert run(["verify", str(demo / "licences" / "driving-licence-nanjing.qr.txt")]) == 0
    assert "VALID" in capsys.readouterr().out


def test_verify_pasted_payload_and_stdin(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (demo / "licences" / "driving-licence-nanjing.qr.txt").read_text().strip()
    assert run(["verify", text, "--trust", trust_of(demo)]) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "elicense.cli", "verify", "-", "--trust", trust_of(demo), "--json"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "VALID"


def test_verify_indeterminate_exit_2(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = demo / "licences" / "business-licence-jinan.qr.txt"
    assert run(["verify", str(f), "--trust", trust_of(demo), "--at", "2099-01-01T00:00:00Z"]) == 2


def test_batch_one_json_per_line_worst_exit(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lic = demo / "licences"
    lines = [
        (lic / "business-licence-jinan.qr.txt").read_text().strip(),
        "",
        (lic / "food-business-licence-expired.qr.txt").read_text().strip(),
        "EL2:garbage",
        "X" * 20000,
        "see the README for how to verify",  # no licence at all: an input error, not a forgery (#20)
    ]
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(lines) + "\n")
    code = run(["verify", "--batch", str(batch), "--trust", trust_of(demo)])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in rows] == ["VALID", "INVALID", "INVALID", "ERROR", "ERROR"]
    assert [r["line"] for r in rows] == [1, 3, 4, 5, 6]
    assert "not a licence QR" in rows[4]["error"]["message"]
    assert code == 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["verify", "/nonexistent/file.qr.txt"], "error"),
        (["verify"], "nothing to verify"),
        (["verify", "x", "--trust", "/nonexistent/trust.json"], "trust"),
        (["verify", "x", "--at", "yesterday", "--trust", "x"], "--at"),
        (["nosuchcommand"], "usage error"),
        (["verify", "--bogus-flag"], "usage error"),
    ],
)
def test_errors_are_one_line_exit_3(
    args: list[str], needle: str, demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if args[:2] == ["verify", "/nonexistent/file.qr.txt"]:
        args = [*args, "--trust", trust_of(demo)]
    assert run(args) == 3
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unreadable_trust_file_is_error(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "trust.json"
    bad.write_text('{"format": "elicense-trust/1", "roots": ["garbage"], "authorities": []}')
    assert run(["verify", str(demo / "licences" / "driving-licence-nanjing.qr.txt"), "--trust", str(bad)]) == 3


def test_image_without_qr_is_error(tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    img = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(img)
    assert run(["verify", str(img), "--trust", trust_of(demo), "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["status"] == "ERROR"


@pytest.mark.parametrize(
    ("value", "code", "needle"),
    [
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U", 0, "VALID"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.V", 1, "check_char"),
        ("11430000006122244L", 0, "VALID"),
        ("11430000006122244M", 1, "INVALID"),
        ("11010519491231002X", 0, "VALID"),
        ("hello", 1, "INVALID"),
    ],
)
def test_id_check(value: str, code: int, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["id", "check", value]) == code
    assert needle in capsys.readouterr().out


def test_version_and_console_script() -> None:
    exe = Path(sys.executable).parent / "elicense"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "elicense.cli"]
    proc = subprocess.run(
        [*cmd, "--version"], capture_output=True, text=True, timeout=60, check=False, env={**os.environ}
    )
    assert proc.returncode == 0 and "elicense" in proc.stdout
