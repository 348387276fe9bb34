"""``elicense present`` end to end: ``elicense demo`` → ``present`` → ``verify`` (text, image, pasted), errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from elicense.cli import run
from elicense.identifiers import LicenceId


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("present") / "demo"
    assert run(["demo", str(out), "--json"]) == 0
    return out


def licence_id(demo: Path, sample: str) -> str:
    """The id of a demo sample, read from its QR through the verifier."""
    from elicense.verify import Verifier

    payload = (demo / "licences" / f"{sample}.qr.txt").read_text().strip()
    result = Verifier.from_trust_file(demo / "trust-bundle.cose").verify(payload)
    assert result.licence is not None
    return str(result.licence.id)


def trust(demo: Path) -> str:
    return str(demo / "trust-bundle.cose")


def present(demo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(["present", *args, "--home", str(demo)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_present_then_verify_text_image_and_pasted(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lid = licence_id(demo, "driving-licence-nanjing")
    code, out, err = present(demo, capsys, lid, "-o", str(tmp_path / "p.png"))
    assert code == 0 and out.startswith("EP1:") and len(out.splitlines()) == 1
    assert "QR version" in err or "二维码版本" in err
    (tmp_path / "p.txt").write_text(out)
    assert run(["verify", str(tmp_path / "p.txt"), "--trust", trust(demo), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "presentation" and doc["status"] == "VALID"
    assert doc["licence"]["id"] == lid and doc["licence"]["disclosed"] == ["holder_name", "vehicle_classes"]
    assert doc["licence"]["holder_code"] is None
    # the PNG, decoded from pixels, in a fresh process-level verifier (the CLI keeps no replay state)
    assert run(["verify", str(tmp_path / "p.png"), "--trust", trust(demo)]) == 0
    assert "VALID" in capsys.readouterr().out
    assert run(["verify", out.strip(), "--trust", trust(demo)]) == 0  # pasted on the command line
    capsys.readouterr()


def test_show_json_and_persisted_wallet(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lid = licence_id(demo, "business-licence-jinan")
    code, out, _ = present(demo, capsys, lid, "--show", "holder_name,legal_representative", "--ttl", "60", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == lid and doc["disclosed"] == ["holder_name", "legal_representative"] and doc["ttl"] == 60
    assert isinstance(doc["qr_version"], int) and doc["qr_version"] <= 20 and doc["png"] is None
    cred = demo / "holder" / f"{lid}.json"
    key = demo / "holder" / f"{lid}.key.pem"
    assert cred.exists() and key.exists() and b"ENCRYPTED" in key.read_bytes()[:64]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = cred.read_bytes()
    code, out2, _ = present(demo, capsys, lid, "--json")
    assert code == 0 and cred.read_bytes() == before  # the credential is made once, then reused
    assert json.loads(out2)["nonce"] != doc["nonce"]
    # signing the MSO is an issuer act: it is in the audit log, once
    from elicense.home import Home

    registry = Home.load(demo).registry(create=False)
    try:
        entries = [e for e in registry.audit_entries() if e.action == "licence.holder_credential"]
        assert [e.subject for e in entries].count(lid) == 1
        assert registry.verify_audit().ok
    finally:
        registry.close()


def test_expired_and_revoked_presentations_are_invalid(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lid = licence_id(demo, "driving-licence-nanjing")
    code, out, _ = present(demo, capsys, lid, "--at", "2020-01-01T00:00:00Z")
    assert code == 0
    (tmp_path / "old.txt").write_text(out)
    assert run(["verify", str(tmp_path / "old.txt"), "--trust", trust(demo), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in doc["reasons"]] == ["presentation_expired"]
    revoked = licence_id(demo, "business-licence-revoked")
    code, out, _ = present(demo, capsys, revoked)
    assert code == 0
    (tmp_path / "rev.txt").write_text(out)
    assert run(["verify", str(tmp_path / "rev.txt"), "--trust", trust(demo), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [r["code"] for r in doc["reasons"]] == ["licence_revoked"]


def test_errors_are_one_line(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lid = licence_id(demo, "driving-licence-nanjing")
    code, out, err = present(demo, capsys, lid, "--show", "holder_name,shoe_size")
    assert code == 3 and out == "" and len(err.strip().splitlines()) == 1
    assert "shoe_size" in err and "vehicle_classes" in err and "holder_code" in err  # lists what is allowed
    parsed = LicenceId.parse(lid)
    unknown = str(LicenceId.build(parsed.type_code, parsed.issuer_code, "999999999", 1))
    code, out, err = present(demo, capsys, unknown)
    assert code == 3 and out == "" and len(err.strip().splitlines()) == 1 and unknown in err
    assert not (demo / "holder" / f"{unknown}.json").exists()
    code, _, err = present(demo, capsys, "not-a-licence-id")
    assert code == 3 and err.startswith("elicense: error:")
    code, _, err = present(demo, capsys, lid, "--ttl", "0")
    assert code == 3 and "usage error" in err
    assert run(["present", lid, "--home", str(demo / "nowhere")]) == 3
    capsys.readouterr()
