"""Issue #20: what a newcomer meets in the first hour (names, inputs, the API, licence references)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from elicense.cli import run
from elicense.verify.inputs import PAYLOAD_PREFIXES




@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("newcomer") / "demo"
    assert run(["demo", str(out)]) == 0
    return out


def test_demo_sample_names_start_with_their_type(world: Any) -> None:
    """A sample called ``<type>-...`` is a licence of that type (the expired one is a 食品经营许可证)."""
    from elicense.catalog import Catalog

    catalog = Catalog.default()
    for name, issued in world.issued.items():
        slug = catalog.get(issued.licence.type_code).slug
        assert name.startswith(slug + "-"), (name, slug)
    assert "food-business-licence-expired" in world.issued


@pytest.mark.parametrize("text", ["hello world", "# elicense\n\nIssue, sign, verify", "https://example.org/x",
                                  "1.2.156.3005.2.11100000000013338W011"])
def test_text_that_is_no_licence_is_an_input_error(text: str, demo: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "paste.txt"
    f.write_text(text)
    trust = str(demo / "trust-bundle.cose")
    assert run(["verify", str(f), "--trust", trust]) == 3
    err = capsys.readouterr().err
    assert "not a licence QR" in err and "Base45" not in err and len(err.strip().splitlines()) == 1
    assert run(["verify", str(f), "--trust", trust, "--json", "--lang", "zh"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "ERROR" and "不是电子证照二维码" in doc["error"]["message"]


def test_a_damaged_licence_payload_stays_invalid(demo: Path, tmp_path: Path) -> None:
    """INVALID is for what claims to be a licence and fails a check."""
    f = tmp_path / "bad.txt"
    f.write_text(PAYLOAD_PREFIXES[0] + "ABC")
    assert run(["verify", str(f), "--trust", str(demo / "trust-bundle.cose")]) == 1


def test_kiosk_says_not_a_licence_qr(demo: Path) -> None:
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier

    app = make_app(Verifier.from_trust_file(demo / "trust-bundle.cose"))
    doc = app.handle("POST", "/api/verify", b"# README\nsome text").json()
    assert doc["status"] == "ERROR" and doc["error"]["code"] == "not_elicense" and doc["error"]["no_qr"]
    assert "not a licence QR" in doc["error"]["en"]


def test_verify_any_takes_what_the_cli_takes(demo: Path) -> None:
    from elicense.verify import Status, Verifier

    v = Verifier.from_trust_file(demo / "trust-bundle.cose")
    lic = demo / "licences"
    png = (lic / "business-licence-jinan.qr.png").read_bytes()
    for data in (png, lic / "business-licence-jinan.qr.png", (lic / "business-licence-jinan.pdf").read_bytes(),
                 lic / "business-licence-jinan.pdf", (lic / "business-licence-jinan.qr.txt").read_text(),
                 (lic / "business-licence-jinan.qr.txt").read_bytes()):
        results = v.verify_any(data)
        assert [x.status for x in results] == [Status.VALID], data if isinstance(data, Path) else type(data)
    misuse = v.verify(png)  # not silent: the reason says what to call
    assert "verify_any" in misuse.reasons[0].message("en")
    from elicense.errors import InputError

    with pytest.raises(InputError):
        v.verify_any("hello")
