"""Hostile ``multipart/form-data`` bodies to the kiosk (``POST /api/verify``, #20): bounded, typed, fast."""

from __future__ import annotations

import time
from typing import Any

from conftest import NOW


def _app(world: Any) -> Any:
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier

    return make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))


def test_attack_kiosk_form_with_many_parts_is_refused_without_parsing_them(world: Any) -> None:
    """10 MB of tiny parts: the stdlib e-mail parser would spend minutes; the kiosk refuses at part 17."""
    app = _app(world)
    part = b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n'
    body = part * (app.max_body // len(part) - 1) + b"--XX--\r\n"
    start = time.process_time()
    response = app.handle("POST", "/api/verify", body, content_type="multipart/form-data; boundary=XX")
    assert time.process_time() - start < 5  # linear split, no per-part parsing: milliseconds in practice
    assert response.status == 400 and response.json()["error"]["code"] == "form"


def test_attack_kiosk_form_without_boundary_or_file_is_a_json_error(world: Any) -> None:
    app = _app(world)
    for ctype, body in (("multipart/form-data", b"--XX\r\n\r\nx\r\n--XX--"),
                        ("multipart/form-data; boundary=XX", b"no delimiter at all"),
                        ("multipart/form-data; boundary=XX", b"--XX\r\nContent-Disposition: form-data\r\n\r\n\r\n--XX--"),
                        ("multipart/form-data; boundary=" + "B" * 500, b"--BBB\r\n")):  # fmt: skip
        response = app.handle("POST", "/api/verify", body, content_type=ctype)
        assert response.status == 400 and response.json()["status"] == "ERROR", (ctype, body)


def test_attack_kiosk_form_file_is_verified_like_raw_bytes(world: Any) -> None:
    """A forged payload in a form is INVALID exactly as when posted raw (the form changes nothing)."""
    app = _app(world)
    payload = world.issued["business-licence-jinan"].qr_payload
    forged = payload[:-6] + ("AAAAAA" if not payload.endswith("AAAAAA") else "BBBBBB")
    body = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="x.txt"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + forged.encode() + b"\r\n--XX--\r\n")  # fmt: skip
    via_form = app.handle("POST", "/api/verify", body, content_type="multipart/form-data; boundary=XX").json()
    raw = app.handle("POST", "/api/verify", forged.encode()).json()
    assert via_form["status"] == raw["status"] != "VALID"
