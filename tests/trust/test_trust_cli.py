"""CLI end to end: demo bundle, verify --region, trust show/export/update, elicense bundle."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from elicense.cli import run
from elicense.demo import build_demo

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
AT = ["--at", NOW.isoformat()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    build_demo(out, now=NOW, seed=b"trust-cli", images=False)
    return out


def test_demo_writes_one_signed_bundle(demo: Path) -> None:
    assert [p.name for p in demo.glob("trust-bundle*")] == ["trust-bundle.cose"]


@pytest.mark.parametrize(
    ("sample", "region", "code", "reason"),
    [
        ("construction-safety-licence-shandong", None, 0, None),
        ("construction-safety-licence-shandong", "320000", 1, "not_recognised"),
        ("construction-safety-licence-shandong", "370000", 0, None),
        ("business-licence-jinan", "320000", 0, None),
        ("real-estate-title-nanjing", "370000", 1, "not_recognised"),
        ("driving-licence-nanjing", "370000", 0, None),
    ],
)
def test_verify_region(
    demo: Path, capsys: pytest.CaptureFixture[str], sample: str, region: str | None, code: int, reason: str | None
) -> None:
    args = [
        "verify",
        str(demo / "licences" / f"{sample}.qr.txt"),
        "--trust",
        str(demo / "trust-bundle.cose"),
        "--json",
        *AT,
    ]
    if region:
        args += ["--region", region]
    assert run(args) == code
    out = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in out["reasons"]] == ([reason] if reason else [])


def test_region_with_json_trust_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = tmp_path / "t.json"
    trust.write_text('{"format": "elicense-trust/1"}')
    assert run(["verify", "EL2:X", "--trust", str(trust), "--region", "320000"]) == 3
    assert "--region" in capsys.readouterr().err


def test_trust_show_json(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["trust", "show", str(demo / "trust-bundle.cose"), "--json", *AT]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["region"] for r in doc["regions"]} == {"370000", "320000"}
    assert all(len(r["authorities"]) >= 2 for r in doc["regions"])
    assert doc["stale"] is False and "status" in doc["extras"]
    assert run(["trust", "show", str(demo / "trust-bundle.cose"), "--lang", "zh", *AT]) == 0
    assert "互认协议" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 not installed (.ci/apt-packages.txt)")
def test_trust_export_verifies_with_xmlsec1(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert run(["trust", "export", str(demo / "trust-bundle.cose"), str(out)]) == 0
    files = [out / "national.xml", *sorted((out / "regions").glob("*.xml"))]
    assert len(files) == 3
    for f in files:
        proc = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--trusted-pem",
                str(out / "root.pem"),
                "--untrusted-pem",
                str(out / "intermediates.pem"),
                str(f),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        assert "OK" in proc.stderr + proc.stdout
    # and a tampered export fails the same independent check
    bad = tmp_path / "bad.xml"
    shandong = (out / "regions" / "370000.xml").read_bytes()
    bad.write_bytes(shandong.replace("济南".encode(), "青岛".encode(), 1))
    assert bad.read_bytes() != shandong
    proc = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--trusted-pem",
            str(out / "root.pem"),
            "--untrusted-pem",
            str(out / "intermediates.pem"),
            str(bad),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0


def test_bundle_and_update(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo, home)
    current = home / "trust-bundle.cose"
    old = current.read_bytes()
    newer = tmp_path / "newer.cose"
    assert (
        run(["bundle", "--home", str(home), "-o", str(newer), "--at", (NOW + dt.timedelta(hours=1)).isoformat()]) == 0
    )
    assert run(["trust", "update", str(current), str(newer)]) == 0
    assert current.read_bytes() == newer.read_bytes()
    # rollback: the old bundle is refused, CURRENT untouched
    older = tmp_path / "older.cose"
    older.write_bytes(old)
    capsys.readouterr()
    assert run(["trust", "update", str(current), str(older)]) == 3
    assert "not newer" in capsys.readouterr().err
    assert current.read_bytes() == newer.read_bytes()
    # tampered: refused, untouched
    tampered = tmp_path / "tampered.cose"
    data = bytearray(newer.read_bytes())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    assert run(["trust", "update", str(current), str(tampered)]) == 3
    assert current.read_bytes() == newer.read_bytes()
    # verify with the updated bundle still works
    assert run(["verify", str(home / "licences" / "business-licence-jinan.qr.txt"), "--trust", str(current), *AT]) == 0


def test_tampered_bundle_never_valid(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray((demo / "trust-bundle.cose").read_bytes())
    data[-10] ^= 1  # inside the signature
    bad = tmp_path / "trust-bundle.cose"
    bad.write_bytes(bytes(data))
    assert run(["verify", str(demo / "licences" / "business-licence-jinan.qr.txt"), "--trust", str(bad), *AT]) == 3
    assert "signature" in capsys.readouterr().err


def test_bundle_without_operators_is_clear_error(
    tmp_path: Path, demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    shutil.copytree(demo, home)
    doc = json.loads((home / "home.json").read_text())
    del doc["trust"]
    (home / "home.json").write_text(json.dumps(doc, ensure_ascii=False))
    assert run(["bundle", "--home", str(home), "-o", str(tmp_path / "x.cose"), "--no-status"]) == 3
    assert "trust-list operators" in capsys.readouterr().err
    assert not (tmp_path / "x.cose").exists()
