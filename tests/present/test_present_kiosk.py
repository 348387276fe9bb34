"""Presentation QR at the kiosk: a screenshot of an expired 亮证 shows 无效, a fresh one 有效, a replay 无效.

Real images through the kiosk's ``POST /api/verify`` (the in-process app, no socket): the QR
is rendered, placed on a phone-sized "screenshot" and JPEG-compressed, then decoded from
pixels by the kiosk's own reading path.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation
from elicense.verify import Verifier

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)


def screenshot(payload: str) -> bytes:
    """A 1080×1920 phone screenshot holding the QR, saved as JPEG (as shared through a chat app)."""
    from PIL import Image, ImageDraw

    from elicense.qr.render import qr_png

    qr = Image.open(io.BytesIO(qr_png(payload, scale=8, border=4))).convert("RGB")
    side = 900
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    screen = Image.new("RGB", (1080, 1920), (246, 246, 246))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 1080, 220), fill=(200, 30, 30))  # app header bar
    draw.rectangle((60, 1500, 1020, 1620), fill=(220, 220, 220))  # a "refresh" button
    screen.paste(qr, ((1080 - side) // 2, 420))
    out = io.BytesIO()
    screen.save(out, format="JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def app(world: Any) -> Any:
    from elicense.kiosk.server import make_app

    return make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW), bundle_path=world.trust_file)


@pytest.fixture
def holder(world: Any) -> tuple[Any, SoftwareDeviceKey]:
    issued = world.issued["driving-licence-nanjing"]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1))
    return cred, device


def post(app: Any, body: bytes, query: str = "") -> dict[str, Any]:
    response = app.handle("POST", "/api/verify", body, query=query)
    assert response.status == 200, response.body[:300]
    doc: dict[str, Any] = response.json()
    return doc


def test_screenshot_of_expired_presentation_is_invalid(app: Any, holder: Any) -> None:
    cred, device = holder
    old = make_presentation(cred, device, show=["holder_name", "vehicle_classes"], now=NOW - dt.timedelta(minutes=10))
    doc = post(app, screenshot(old.payload))
    assert doc["status"] == "INVALID" and doc["label"]["zh"] == "无效"
    assert [r["code"] for r in doc["reasons"]] == ["presentation_expired"]
    assert "过期" in doc["reasons"][0]["zh"] and doc["results"][0]["kind"] == "presentation"


def test_fresh_presentation_is_valid_then_replay_is_invalid(app: Any, holder: Any) -> None:
    cred, device = holder
    fresh = make_presentation(cred, device, show=["holder_name", "vehicle_classes"], now=NOW - dt.timedelta(seconds=20))
    shot = screenshot(fresh.payload)
    doc = post(app, shot)
    assert doc["status"] == "VALID" and doc["label"]["zh"] == "有效", doc["reasons"]
    assert doc["licence"]["id"] == cred.licence_id and doc["licence"]["holder"].startswith("周")
    again = post(app, shot)  # the same QR shown again (a screenshot passed on)
    assert again["status"] == "INVALID" and [r["code"] for r in again["reasons"]] == ["presentation_replayed"]


def test_presentation_text_body(app: Any, holder: Any) -> None:
    cred, device = holder
    doc = post(app, make_presentation(cred, device, show=[], now=NOW).payload.encode("ascii"))
    assert doc["status"] == "VALID" and doc["results"][0]["kind"] == "presentation"


def test_replay_is_caught_across_a_trust_reload(world: Any, holder: Any, tmp_path: Any) -> None:
    """``elicense trust update`` replaces the bundle; the kiosk reloads it and still remembers spent nonces."""
    import shutil

    from elicense.cli import run
    from elicense.kiosk.server import KioskApp

    home = tmp_path / "home"
    shutil.copytree(world.home.path, home)
    bundle = home / "trust-bundle.cose"
    kiosk = KioskApp(Verifier.from_trust_file(bundle, clock=lambda: NOW), bundle_path=bundle, reload_interval=0)
    cred, device = holder
    payload = make_presentation(cred, device, now=NOW).payload.encode("ascii")
    assert post(kiosk, payload)["status"] == "VALID"
    replacement = tmp_path / "new.cose"  # a newer bundle (the kiosk refuses rollbacks, as trust update does)
    assert run(["bundle", "--home", str(home), "-o", str(replacement), "--at", NOW.isoformat()]) == 0
    assert run(["trust", "update", str(bundle), str(replacement)]) == 0  # atomic replace: a new inode
    again = post(kiosk, payload)
    assert kiosk.reloads == 1
    assert again["status"] == "INVALID" and [r["code"] for r in again["reasons"]] == ["presentation_replayed"]
