"""Signed status lists: format, bounds, forgery, rollback, staleness, a million entries."""

from __future__ import annotations

import datetime as dt
import gzip
import time

import pytest

from elicense.crypto.keys import key_id
from elicense.qr import cbor
from elicense.qr.cose import sign1
from elicense.status.reasons import REASONS_BY_KEY, ListState
from elicense.status.statuslist import (
    MIN_ENTRIES,
    Entry,
    StatusListError,
    decode_content,
    encode_content,
    pack,
    parse_status_list,
    sign_status_list,
)
from elicense.status.store import StatusStore

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
SUCC = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.X"


@pytest.fixture(scope="module")
def parts(world):  # type: ignore[no-untyped-def]
    home = world.home
    a, b = home.authorities[0], home.authorities[2]
    return home.trust_store(), a, home.signer(a), b, home.signer(b)


ENTRIES = [
    Entry(0, ListState.REVOKED, REASONS_BY_KEY["cancelled"], NOW - dt.timedelta(days=2)),
    Entry(5, ListState.SUSPENDED),
    Entry(MIN_ENTRIES - 1, ListState.SUPERSEDED, None, NOW - dt.timedelta(days=1), SUCC),
]


def signed(signer, code, seq=1, issued=NOW, entries=ENTRIES, **kw):  # type: ignore[no-untyped-def]
    return sign_status_list(signer, issuer=code, sequence=seq, issued_at=issued, entries=entries, **kw)


def test_round_trip_and_lookup(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    data = signed(sa, a.code)
    lst = parse_status_list(data).content
    assert lst.issuer == a.code and lst.size == MIN_ENTRIES and lst.sequence == 1
    assert lst.next_update - lst.issued_at == dt.timedelta(days=7)
    assert lst.state(0) is ListState.REVOKED and lst.detail(0).reason.key == "cancelled"
    assert lst.state(5) is ListState.SUSPENDED and lst.detail(5).reason.key == "suspended"
    assert lst.detail(5).since is None
    assert lst.state(MIN_ENTRIES - 1) is ListState.SUPERSEDED and lst.detail(MIN_ENTRIES - 1).successor == SUCC
    assert all(lst.state(i) is ListState.VALID for i in (1, 4, 6, 1000, MIN_ENTRIES - 2))
    with pytest.raises(IndexError):
        lst.state(MIN_ENTRIES)
    assert lst.counts() == {"suspended": 1, "revoked": 1, "superseded": 1}
    assert parse_status_list(signed(sa, a.code)).message.payload == parse_status_list(data).message.payload
    store = StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True)
    assert store.problems == () and store.sequences() == {a.code: 1}


def test_bit_layout_is_msb_first():  # type: ignore[no-untyped-def]
    bits = pack({0: ListState.SUPERSEDED, 5: ListState.SUSPENDED}, MIN_ENTRIES)
    assert bits[0] == 0b11000000 and bits[1] == 0b00010000 and not any(bits[2:])


def test_one_million_entries_round_trip(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    import random

    rng = random.Random(5)
    size = 1 << 20
    picks = rng.sample(range(size), 10_000)
    states = [ListState.REVOKED, ListState.SUSPENDED, ListState.SUPERSEDED]
    entries = [Entry(i, states[n % 3], None, NOW - dt.timedelta(hours=n % 500),
                     SUCC if n % 3 == 2 else None) for n, i in enumerate(picks)]  # fmt: skip
    t = time.perf_counter()
    data = signed(sa, a.code, entries=entries, size=size)
    build = time.perf_counter() - t
    t = time.perf_counter()
    store = StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True)
    load = time.perf_counter() - t
    lst = store.lists[a.code]
    assert lst.size == size and store.problems == ()
    for n, i in enumerate(picks):
        assert lst.state(i) is states[n % 3]
    assert sum(1 for i in range(0, size, 97) if lst.state(i) is not ListState.VALID) <= len(picks)
    print(f"1M list: {len(data)} bytes, build {build * 1000:.0f} ms, verify+decode {load * 1000:.0f} ms")
    assert len(data) < 400_000


# -- hostile lists ---------------------------------------------------------------------------


def _resign(signer, content: dict) -> bytes:  # type: ignore[no-untyped-def]
    return sign1(cbor.dumps(content), signer, key_id(signer.certificate))


def _content(code: str, **override: object) -> dict:  # type: ignore[type-arg]
    doc = cbor.loads(encode_content(issuer=code, sequence=1, issued_at=NOW, next_update=NOW + dt.timedelta(days=7),
                                    size=MIN_ENTRIES, entries=ENTRIES))  # fmt: skip
    doc.update(override)
    return doc


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"lst": gzip.compress(bytes(MIN_ENTRIES // 4 + 1), mtime=0)}, "exactly"),  # longer than declared
        ({"lst": gzip.compress(bytes(MIN_ENTRIES // 4 - 1), mtime=0)}, "exactly"),  # shorter
        ({"lst": gzip.compress(bytes(64 * 1024 * 1024), mtime=0)}, "exactly"),  # a gzip bomb: 64 MiB of zeros
        ({"lst": b"not gzip at all"}, "gzip"),
        ({"size": 1000}, "size"),
        ({"size": (1 << 24) + 8}, "size"),
        ({"size": MIN_ENTRIES + 3}, "size"),
        ({"nxt": int(NOW.timestamp()) + 90 * 86400}, "next update"),
        ({"nxt": int(NOW.timestamp()) - 1}, "next update"),
        ({"typ": "something-else"}, "not an elicense status list"),
        ({"det": {5: [1, None, None]}}, "contradicts"),  # says revoked where the bits say suspended
        ({"det": {5: [99, None, None]}}, "unknown status reason"),
        ({"det": {MIN_ENTRIES: [1, None, None]}}, "detail index"),
        ({"extra": 1}, "not an elicense status list"),
    ],
)
def test_malformed_lists_are_refused(parts, override, match):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    data = _resign(sa, _content(a.code, **override))
    with pytest.raises(StatusListError, match=match):
        parse_status_list(data)
    store = StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True)
    assert store.lists == {} and len(store.problems) == 1


def test_bomb_is_refused_quickly(parts):  # type: ignore[no-untyped-def]
    _, a, _, _, _ = parts
    bomb = gzip.compress(bytes(32 * 1024 * 1024), mtime=0)  # 32 MiB → ~32 KiB
    doc = _content(a.code, lst=bomb)
    t = time.perf_counter()
    with pytest.raises(StatusListError):
        decode_content(cbor.dumps(doc))
    assert time.perf_counter() - t < 0.5


def test_oversized_message_is_refused():  # type: ignore[no-untyped-def]
    with pytest.raises(StatusListError, match="too large"):
        parse_status_list(bytes(9 * 1024 * 1024))


def test_tampered_list_is_refused(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    data = bytearray(signed(sa, a.code))
    doc = _content(a.code, det={})  # drop the details but keep the signature of the original
    original = parse_status_list(bytes(data)).message
    forged = cbor.dumps(cbor.tag(18, [original.protected, {}, cbor.dumps(doc), original.signature]))
    store = StatusStore.build(trust, status_lists=[forged], unsafe_skip_crls=True)
    assert store.lists == {} and "signature" in store.problems[0]
    data[-5] ^= 1  # flip a signature bit
    store = StatusStore.build(trust, status_lists=[bytes(data)], unsafe_skip_crls=True)
    assert store.lists == {}


def test_list_signed_by_another_authority_is_refused(parts):  # type: ignore[no-untyped-def]
    trust, a, _, _, sb = parts
    data = signed(sb, a.code)  # authority B signs a list claiming to be A's
    store = StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True)
    assert store.lists == {} and store.problems


def test_rollback_and_newest_wins(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    old = signed(sa, a.code, seq=7, entries=[])
    new = signed(sa, a.code, seq=8, issued=NOW + dt.timedelta(hours=1))
    store = StatusStore.build(trust, status_lists=[new, old], unsafe_skip_crls=True)
    assert store.lists[a.code].sequence == 8
    rolled = StatusStore.build(trust, status_lists=[old], known_sequences={a.code: 8}, unsafe_skip_crls=True)
    assert rolled.lists == {} and "rollback" in rolled.problems[0]
    assert rolled.check_licence(a.code, 0, NOW)[0].code == "status_list_rolled_back"


def test_check_licence_outcomes(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, b, _ = parts
    store = StatusStore.build(trust, status_lists=[signed(sa, a.code)], unsafe_skip_crls=True)
    codes = lambda idx, at=NOW, code=a.code: [r.code for r in store.check_licence(code, idx, at)]  # noqa: E731
    assert codes(1) == []
    assert codes(None) == []  # a licence without status index has nothing to check
    assert codes(0) == ["licence_cancelled"]
    assert codes(5) == ["licence_suspended"]
    reason = store.check_licence(a.code, MIN_ENTRIES - 1, NOW)[0]
    assert reason.code == "licence_superseded" and SUCC in reason.detail
    assert codes(0, NOW - dt.timedelta(days=3)) == []  # as of before the revocation took effect
    assert codes(1, NOW + dt.timedelta(days=8)) == ["status_stale"]
    assert codes(0, NOW + dt.timedelta(days=8)) == ["status_stale"]
    assert codes(1, code=b.code) == ["status_unknown"]  # no list for that issuer
    assert codes(MIN_ENTRIES + 10) == ["status_index_out_of_range"]
    assert {r.status.value for r in store.check_licence(b.code, 1, NOW)} == {"INDETERMINATE"}


def test_store_lookup_is_fast(parts):  # type: ignore[no-untyped-def]
    trust, a, sa, _, _ = parts
    store = StatusStore.build(trust, status_lists=[signed(sa, a.code)], unsafe_skip_crls=True)
    n = 20_000
    t = time.perf_counter()
    for i in range(n):
        store.check_licence(a.code, 1000 + i, NOW)
    per = (time.perf_counter() - t) / n
    assert per < 50e-6, per  # a few µs in practice
