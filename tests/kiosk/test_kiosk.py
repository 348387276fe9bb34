"""Kiosk endpoint (in process, real QR images) and the CLI command."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from elicense.kiosk.server import MAX_BODY, make_app, make_server

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
STATIC = Path(__file__).resolve().parents[2] / "src" / "elicense" / "kiosk" / "static"


def qr_png(payload: str, scale: int = 6) -> bytes:
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bundle(world, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A private copy of the world's bundle (tests replace it)."""
    path = tmp_path_factory.mktemp("kiosk") / "trust-bundle.cose"
    shutil.copyfile(world.trust_file, path)
    return path


def app_at(bundle: Path, when: dt.datetime):  # type: ignore[no-untyped-def]
    from elicense.verify import Verifier

    return make_app(Verifier.from_trust_file(bundle, clock=lambda: when), bundle_path=bundle)


@pytest.fixture(scope="module")
def app(bundle):  # type: ignore[no-untyped-def]
    return app_at(bundle, NOW)


def test_valid_qr_image_is_valid_with_masked_holder(app, world) -> None:  # type: ignore[no-untyped-def]
    r = app.handle("POST", "/api/verify", qr_png(world.issued["driving-licence-nanjing"].qr_payload))
    assert r.status == 200
    doc = r.json()
    assert doc["status"] == "VALID"
    assert doc["label"] == {"zh": "有效", "en": "Valid"}
    lic = doc["licence"]
    assert lic["type_name"]["zh"].endswith("机动车驾驶证")
    full = world.issued["driving-licence-nanjing"].licence.holder.name
    assert lic["holder"] != full and lic["holder"].startswith(full[0]) and "*" in lic["holder"]
    assert "*" in lic["holder_code"]
    assert lic["issuer"] == "南京市公安局"
    assert lic["valid_from"]
    assert doc["count"] == 1
    assert doc["trust"]["stale"] is False and doc["trust"]["warnings"] == []
    assert doc["trust"]["age_seconds"] >= 0


def test_revoked_qr_image_is_invalid_with_bilingual_reason(app, world) -> None:  # type: ignore[no-untyped-def]
    doc = app.handle("POST", "/api/verify", qr_png(world.issued["business-licence-revoked"].qr_payload)).json()
    assert doc["status"] == "INVALID"
    assert doc["label"]["zh"] == "无效"
    reason = next(x for x in doc["reasons"] if x["code"] == "licence_revoked")
    assert "吊销" in reason["zh"] and "revoked" in reason["en"].lower()


def test_payload_text_and_pdf_bodies_work_too(app, world) -> None:  # type: ignore[no-untyped-def]
    doc = app.handle("POST", "/api/verify", world.issued["business-licence-jinan"].qr_payload.encode()).json()
    assert doc["status"] == "VALID"


def test_two_codes_in_one_frame_report_the_worst(app, world) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    a = Image.open(io.BytesIO(qr_png(world.issued["business-licence-jinan"].qr_payload)))
    b = Image.open(io.BytesIO(qr_png(world.issued["business-licence-revoked"].qr_payload)))
    frame = Image.new("L", (a.width + b.width + 40, max(a.height, b.height) + 40), 255)
    frame.paste(a.convert("L"), (10, 20))
    frame.paste(b.convert("L"), (a.width + 30, 20))
    buf = io.BytesIO()
    frame.save(buf, "PNG")
    doc = app.handle("POST", "/api/verify", buf.getvalue()).json()
    assert doc["count"] == 2
    assert doc["status"] == "INVALID"
    assert sorted(x["status"] for x in doc["results"]) == ["INVALID", "VALID"]


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (b"", 400, "empty"),
        (b"\x00\xff\xfe" * 50, 422, "input"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 422, "unreadable"),
    ],
)
def test_garbage_is_a_json_error(app, body: bytes, code: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    r = app.handle("POST", "/api/verify", body)
    assert r.status == code
    doc = r.json()
    assert doc["status"] == "ERROR" and doc["error"]["code"] == reason
    assert doc["error"]["zh"] and doc["error"]["en"]


def test_image_without_qr_says_no_qr(app) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (320, 240), 200).save(buf, "JPEG")
    r = app.handle("POST", "/api/verify?mode=camera", buf.getvalue())
    assert r.status == 422
    assert r.json()["error"]["no_qr"] is True
    assert r.json()["error"]["code"] == "no_qr"


def test_pixel_bomb_is_a_typed_error(app) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (12_000, 12_000), 1).save(buf, "PNG")  # 144 MP in a few kB
    assert len(buf.getvalue()) < MAX_BODY
    r = app.handle("POST", "/api/verify", buf.getvalue())
    assert r.status == 422
    assert r.json()["error"]["code"] in ("too_many_pixels", "bomb")


def test_huge_body_is_413_over_a_real_socket(app) -> None:  # type: ignore[no-untyped-def]
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("POST", "/api/verify", body=b"\xff" * (MAX_BODY + 1))
        resp = conn.getresponse()
        assert resp.status == 413
        assert json.loads(resp.read())["error"]["code"] == "too_large"
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", "/api/status")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["trust"]["kind"] == "bundle"
    finally:
        server.shutdown()
        server.server_close()


def test_stale_bundle_and_wrong_clock_warn(bundle, world) -> None:  # type: ignore[no-untyped-def]
    late = app_at(bundle, NOW + dt.timedelta(days=400))
    trust = late.handle("GET", "/api/status").json()["trust"]
    assert trust["stale"] is True
    assert [w["code"] for w in trust["warnings"]] == ["trust_stale"]
    doc = late.handle("POST", "/api/verify", qr_png(world.issued["business-licence-jinan"].qr_payload)).json()
    assert doc["status"] != "VALID"  # stale trust never says VALID
    assert doc["trust"]["stale"] is True
    early = app_at(bundle, NOW - dt.timedelta(days=2))
    trust = early.handle("GET", "/api/status").json()["trust"]
    assert trust["clock_suspect"] is True
    assert "clock_suspect" in [w["code"] for w in trust["warnings"]]


def test_trust_update_is_picked_up_and_rollback_refused(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``elicense bundle`` + ``elicense trust update`` (atomic replace) → the running kiosk reloads."""
    from elicense.cli import run
    from elicense.verify import Verifier

    home = tmp_path / "home"
    shutil.copytree(world.home.path, home)
    path = home / "trust-bundle.cose"
    old_bytes = path.read_bytes()
    later = NOW + dt.timedelta(hours=2)  # after the new bundle's issue time (else: clock_suspect)
    app = make_app(Verifier.from_trust_file(path, clock=lambda: later), bundle_path=path)
    app._reload_interval = 0.0
    assert app.handle("GET", "/api/status").json()["trust"]["sequence"] == 1
    payload = world.issued["business-licence-jinan"].qr_payload.encode()

    newer = tmp_path / "newer.cose"
    assert (
        run(["bundle", "--home", str(home), "-o", str(newer), "--at", (NOW + dt.timedelta(hours=1)).isoformat()]) == 0
    )
    assert run(["trust", "update", str(path), str(newer)]) == 0
    trust = app.handle("GET", "/api/status").json()["trust"]
    assert app.reloads == 1 and trust["sequence"] == 2 and trust["warnings"] == []
    assert app.handle("POST", "/api/verify", payload).json()["status"] == "VALID"

    def overwrite(data: bytes) -> None:  # someone copies a file over the bundle (bypassing trust update)
        tmp = tmp_path / "copy.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)

    overwrite(old_bytes)  # rollback to #1: refused, #2 stays
    trust = app.handle("GET", "/api/status").json()["trust"]
    assert trust["sequence"] == 2 and app.reloads == 1
    assert "trust_reload_failed" in [w["code"] for w in trust["warnings"]]
    overwrite(b"\xd2broken")  # garbage: refused too, verification goes on with #2
    trust = app.handle("GET", "/api/status").json()["trust"]
    assert trust["sequence"] == 2 and "trust_reload_failed" in [w["code"] for w in trust["warnings"]]
    assert app.handle("POST", "/api/verify", payload).json()["status"] == "VALID"
    path.unlink()  # missing file: keep going, warn
    assert "trust_missing" in [w["code"] for w in app.handle("GET", "/api/status").json()["trust"]["warnings"]]


def test_page_and_assets_are_served_with_csp(app) -> None:  # type: ignore[no-untyped-def]
    page = app.handle("GET", "/")
    assert page.status == 200
    assert b"/static/kiosk.js" in page.body
    for name in ("kiosk.js", "kiosk.css", "cjk.otf"):
        assert app.handle("GET", f"/static/{name}").status == 200
    assert app.handle("GET", "/static/../server.py").status == 404
    assert app.handle("GET", "/nope").status == 404
    assert app.handle("GET", "/api/verify").status == 405


def test_static_assets_reference_no_external_urls() -> None:
    names = sorted(p.name for p in STATIC.iterdir())
    assert names == ["index.html", "kiosk.css", "kiosk.js"]
    for path in STATIC.iterdir():
        text = path.read_text("utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
        assert "http://" not in text and "https://" not in text, path.name
        assert "@import" not in text


def test_cli_kiosk_needs_trust(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from elicense.cli import run

    monkeypatch.delenv("ELICENSE_TRUST", raising=False)
    assert run(["kiosk"]) == 3


@pytest.mark.parametrize("via_env", [False, True])
def test_cli_kiosk_serves(bundle, monkeypatch, capsys, via_env: bool) -> None:  # type: ignore[no-untyped-def]
    """``elicense kiosk`` really binds a port and answers; the test stops it through its server."""
    import elicense.kiosk.server as server_mod
    from elicense.cli import run

    answers: list = []
    real_serve = server_mod.serve

    def serve(app, host, port, *, quiet, ready):  # type: ignore[no-untyped-def]
        def ready_and_stop(server) -> None:  # type: ignore[no-untyped-def]
            ready(server)

            def probe() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
                conn.request("GET", "/api/status")
                answers.append(json.loads(conn.getresponse().read()))
                conn.close()
                server.shutdown()

            threading.Thread(target=probe, daemon=True).start()

        real_serve(app, host, port, quiet=quiet, ready=ready_and_stop)

    monkeypatch.setattr(server_mod, "serve", serve)
    if via_env:
        monkeypatch.setenv("ELICENSE_TRUST", str(bundle))
    assert run(["kiosk", "--port", "0"] if via_env else ["kiosk", "--trust", str(bundle), "--port", "0"]) == 0
    assert answers and answers[0]["trust"]["path"] == str(bundle)
    assert "http://localhost:" in capsys.readouterr().err


def test_host_header_is_checked_when_listening_on_loopback(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import LOOPBACK_HOSTS, _host_name
    from elicense.verify import Verifier

    assert [_host_name(h) for h in ("localhost:8080", "127.0.0.1", "[::1]:80", "Evil.Example:8080")] == [
        "localhost",
        "127.0.0.1",
        "[::1]",
        "evil.example",
    ]
    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW), allowed_hosts=LOOPBACK_HOSTS)
    server = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for host, status in (
            ("localhost:8080", 200),
            (f"127.0.0.1:{server.server_port}", 200),
            ("rebound.example.com", 403),
        ):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
            conn.request("GET", "/api/status", headers={"Host": host})
            resp = conn.getresponse()
            assert resp.status == status, host
            resp.read()
            conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_sm2_bundle_reload(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An SM2 home's bundle (opt-in algorithm) is re-checked under the same allow-list on reload."""
    pytest.importorskip("tongsuopy")
    from elicense.cli import run
    from elicense.cli.verify import load_verifier

    monkeypatch.setenv("ELICENSE_ALGORITHMS", "SM2")
    home = tmp_path / "sm2"
    assert run(["demo", "--alg", "sm2", str(home)]) == 0
    path = home / "trust-bundle.cose"
    app = make_app(load_verifier(str(path)), bundle_path=path, loader=lambda p: load_verifier(str(p)))
    app._reload_interval = 0.0
    qr = (home / "licences" / "business-licence-jinan.qr.png").read_bytes()
    assert app.handle("POST", "/api/verify", qr).json()["status"] == "VALID"
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    newer = tmp_path / "newer.cose"
    assert run(["bundle", "--home", str(home), "-o", str(newer), "--at", at, "--no-status"]) == 0
    assert run(["trust", "update", str(path), str(newer)]) == 0
    trust = app.handle("GET", "/api/status").json()["trust"]
    assert app.reloads == 1 and trust["sequence"] == 2
    assert "trust_reload_failed" not in [w["code"] for w in trust["warnings"]]
