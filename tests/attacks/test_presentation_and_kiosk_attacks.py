"""Issue #16 item 5: one holder must not silence every presentation; a web page must not drive the kiosk.

- A flood of one holder's genuine presentations filled the shared replay cache (65,536 ids for an
  hour), and every presentation from anyone was INDETERMINATE. The cache now keeps a quota per
  device key and, when full, evicts only from the heaviest device (``specs/presentation.md`` §7).
- The kiosk answered POSTs from any web origin; 100 simultaneous connections got about half reset
  (listen backlog 5, a thread per connection).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation
from elicense.present.verify import MAX_PER_DEVICE, MAX_REPLAY_ENTRIES, Replay, ReplayCache
from elicense.verify import Verifier
from elicense.verify.result import Status

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)


def _holder(world: Any, name: str = "business-licence-jinan") -> tuple[Any, SoftwareDeviceKey]:
    issued = world.issued[name]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    return issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1)), device


def _codes(result: Any) -> list[str]:
    return [r.code for r in result.reasons]


def test_attack_one_holder_floods_replay_cache(world: Any, verifier: Verifier) -> None:
    """One holder floods with 1-hour presentations; everybody else keeps getting VALID."""
    v = Verifier(trust=verifier.trust, status=verifier.status, clock=lambda: NOW)  # the default cache
    victim_cred, victim_device = _holder(world, "driving-licence-nanjing")
    shown = make_presentation(victim_cred, victim_device, show=["holder_name"], now=NOW)
    assert v.verify(shown.payload).status is Status.VALID  # the victim showed a code before the flood
    flooder, device = _holder(world)
    outcomes = [
        v.verify(make_presentation(flooder, device, ttl=3600, now=NOW).payload) for _ in range(MAX_PER_DEVICE + 40)
    ]
    assert all(r.status is Status.VALID for r in outcomes[:MAX_PER_DEVICE])
    assert all(_codes(r) == ["presentation_replay_quota"] for r in outcomes[MAX_PER_DEVICE:])  # only the flooder
    assert v.replay_cache is not None and len(v.replay_cache) == MAX_PER_DEVICE + 1  # and the victim's
    other_cred, other_device = _holder(world, "business-licence-nanjing")
    fresh = v.verify(make_presentation(other_cred, other_device, show=["holder_name"], now=NOW).payload)
    assert fresh.status is Status.VALID, fresh.reasons  # a genuine presentation of another holder
    again = v.verify(shown.payload, at=NOW + dt.timedelta(seconds=5))
    assert _codes(again) == ["presentation_replayed"]  # the victim's id was not forgotten


def test_attack_many_flooding_holders_evict_only_their_own_entries(world: Any, verifier: Verifier) -> None:
    """Several colluding holders fill the whole cache: room is made from the heaviest flooder only."""
    cache = ReplayCache(max_entries=40, per_device=8)
    v = Verifier(trust=verifier.trust, status=verifier.status, clock=lambda: NOW, replay_cache=cache)
    victim_cred, victim_device = _holder(world, "driving-licence-nanjing")
    shown = make_presentation(victim_cred, victim_device, now=NOW)
    assert v.verify(shown.payload).status is Status.VALID
    flooders = [_holder(world) for _ in range(6)]  # 6 × 8 = 48 > 40 entries
    for cred, device in flooders:
        for _ in range(8):
            assert v.verify(make_presentation(cred, device, ttl=3600, now=NOW).payload).status is Status.VALID
    assert len(cache) == 40
    for _ in range(5):  # other genuine holders arrive while the cache is full
        cred, device = _holder(world, "business-licence-nanjing")
        assert v.verify(make_presentation(cred, device, now=NOW).payload).status is Status.VALID
    assert len(cache) == 40
    assert _codes(v.verify(shown.payload, at=NOW + dt.timedelta(seconds=1))) == ["presentation_replayed"]


def test_attack_one_holder_floods_the_kiosk_and_the_batch(world: Any, tmp_path: Any, capsys: Any) -> None:
    """The same quota end to end: the kiosk's verifier and one ``verify --batch`` run."""
    from elicense.cli import run
    from elicense.kiosk.server import make_app

    flooder, device = _holder(world)
    flood = [make_presentation(flooder, device, ttl=3600, now=NOW).payload for _ in range(MAX_PER_DEVICE + 4)]
    other_cred, other_device = _holder(world, "business-licence-nanjing")
    other = make_presentation(other_cred, other_device, now=NOW).payload
    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))
    answers = [app.handle("POST", "/api/verify", text.encode()).json() for text in [*flood, other]]
    assert [a["status"] for a in answers[:MAX_PER_DEVICE]] == ["VALID"] * MAX_PER_DEVICE
    assert {a["reasons"][0]["code"] for a in answers[MAX_PER_DEVICE:-1]} == {"presentation_replay_quota"}
    assert answers[-1]["status"] == "VALID"
    path = tmp_path / "flood.txt"
    path.write_text("\n".join([*flood, other]) + "\n")
    run(["verify", "--trust", str(world.trust_file), "--at", "2026-06-01T08:00:00Z", "--batch", str(path)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["status"] for d in lines] == ["VALID"] * MAX_PER_DEVICE + ["INDETERMINATE"] * 4 + ["VALID"]


def test_replay_cache_memory_stays_bounded_under_a_flood() -> None:
    cache = ReplayCache(max_entries=1000, per_device=16)
    for i in range(50_000):  # 50 devices, each far over its quota, ids that never expire in the run
        device = (i % 50).to_bytes(2, "big")
        cache.check(i.to_bytes(8, "big"), device, expires=10**9, now=1)
    assert len(cache) <= 1000 and len(cache._heap) <= 2 * 1000 + 1024
    assert all(cache.live_for((d).to_bytes(2, "big")) <= 16 for d in range(50))
    assert cache.check(b"newcomer", b"new device", expires=10**9, now=1) is Replay.FRESH
    assert MAX_REPLAY_ENTRIES >= 65_536


# -- the kiosk: cross-origin requests and a burst of connections ---------------------------------


@pytest.fixture
def server(world: Any) -> Iterator[Any]:
    from elicense.kiosk.server import make_app, make_server

    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW), bundle_path=world.trust_file)
    srv = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/verify", body=body, headers={"Content-Type": "text/plain", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_attack_cross_origin_post_to_kiosk(world: Any, server: Any) -> None:
    port = server.server_port
    payload = world.issued["business-licence-jinan"].qr_payload.encode()
    own = f"http://127.0.0.1:{port}"
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": f"http://127.0.0.1:{port + 1}"}, {"Origin": f"https://127.0.0.1:{port}"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": own, "Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        status, doc = _post(port, payload, headers)
        assert status == 403, headers
        assert doc["status"] == "ERROR" and doc["error"]["code"] == "cross_origin" and doc["error"]["zh"]
    # the kiosk's own page, and clients that are not browsers, keep working
    for headers in ({"Origin": own, "Sec-Fetch-Site": "same-origin"}, {}, {"Sec-Fetch-Site": "none"}):
        status, doc = _post(port, payload, headers)
        assert status == 200 and doc["status"] == "VALID", (headers, doc)
    # following a link to the kiosk from elsewhere still shows the page (a GET changes nothing)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/", headers={"Sec-Fetch-Site": "cross-site"})
    assert conn.getresponse().status == 200
    conn.close()


def test_attack_cross_origin_post_refused_in_process(world: Any) -> None:
    """The same check through the WSGI callable (what any WSGI server hosting the app calls)."""
    from elicense.kiosk.server import make_app

    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))
    body = world.issued["business-licence-jinan"].qr_payload.encode()

    def call(extra: dict[str, str]) -> tuple[str, dict[str, Any]]:
        seen: list[str] = []
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/verify",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "HTTP_HOST": "localhost:8080",
            **extra,
        }
        out = b"".join(app(environ, lambda status, headers: seen.append(status)))
        return seen[0], json.loads(out)

    assert call({"HTTP_ORIGIN": "http://attacker.test"})[0].startswith("403")
    assert call({"HTTP_ORIGIN": "http://localhost:8080"})[0].startswith("200")
    assert call({})[0].startswith("200")


def test_attack_hundred_simultaneous_connections_to_kiosk(world: Any, server: Any) -> None:
    """100 connections opened at once are all accepted at once (no SYN retransmit, no reset) and answered."""
    port = server.server_port
    payload = world.issued["business-licence-jinan"].qr_payload.encode()
    request = (b"POST /api/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\n"
               b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)  # fmt: skip
    started = time.monotonic()
    sockets: list[socket.socket] = []
    slowest_connect = 0.0
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(60)
            t = time.monotonic()
            s.connect(("127.0.0.1", port))
            slowest_connect = max(slowest_connect, time.monotonic() - t)
            sockets.append(s)
        # a dropped SYN is retried after 1 s: every connection must have been queued at once
        assert slowest_connect < 0.9, f"a connection waited {slowest_connect:.2f} s (listen backlog overflow)"
        answers: list[bytes | str] = [b""] * len(sockets)

        def talk(i: int, s: socket.socket) -> None:
            try:
                s.sendall(request)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                answers[i] = data
            except OSError as exc:  # a reset
                answers[i] = repr(exc)

        threads = [threading.Thread(target=talk, args=(i, s)) for i, s in enumerate(sockets)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=90)
    finally:
        for s in sockets:
            s.close()
    elapsed = time.monotonic() - started
    bad = [a for a in answers if not (isinstance(a, bytes) and a.startswith(b"HTTP/1.0 200"))]
    assert not bad, bad[:3]
    assert all(b'"status": "VALID"' in a for a in answers if isinstance(a, bytes))
    assert elapsed < 90
