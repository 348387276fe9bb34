"""The verify hot path's fast code agrees with the straightforward code, and the compact forms are strict."""

from __future__ import annotations

import datetime as dt

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from elicense.catalog import Catalog
from elicense.errors import PayloadError
from elicense.identifiers import LicenceId
from elicense.qr import cbor
from elicense.qr import claims as claims_mod
from elicense.qr.claims import (
    K_HOLDER_CODE,
    K_HOLDER_NAME,
    K_ID,
    K_SUPERSEDES,
    compact_text,
    pack_type_code,
    pack_uscc,
    parse_claims,
    unpack_type_code,
    unpack_uscc,
)
from elicense.qr.cose import parse_sign1, sig_structure, sign1
from elicense.qr.payload import unwrap, wrap
from elicense.verify.result import Status
from reference_forms import uscc_from_value_reference

USCCS = ["91370102MA3C8K2L65", "91320102MA1XR7KP7K", "11100000MB0143028R", "11100000000013338W"]
ISSUER = "91370102MA3C8K2L65"


def _top(world, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The CWT claims set of a demo payload."""
    return cbor2.loads(parse_sign1(unwrap(world.issued[name].qr_payload)).payload)


def _claims(world, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The licence claims map inside it."""
    return _top(world, name)[claims_mod.K_LICENCE]


@pytest.mark.parametrize("code", USCCS)
def test_packed_uscc_round_trips(code: str) -> None:
    packed = pack_uscc(code)
    assert packed is not None and len(packed) == 10
    assert unpack_uscc(packed) == code


def test_invalid_or_masked_codes_are_not_packed() -> None:
    assert pack_uscc("91370102MA3C8K2L66") is None  # wrong check character
    assert pack_uscc("3****************X") is None
    assert pack_type_code("11100000MB0143028R000") is None


def test_every_catalogue_type_code_packs_and_round_trips() -> None:
    for lt in Catalog.default():
        packed = pack_type_code(lt.code)
        assert packed is not None and len(packed) == 12
        assert unpack_type_code(packed) == lt.code


def test_unpack_refuses_out_of_range_values() -> None:
    with pytest.raises(PayloadError):
        unpack_uscc(b"\xff" * 10)
    with pytest.raises(PayloadError):
        unpack_type_code(b"\xff" * 12)
    with pytest.raises(PayloadError):
        unpack_uscc(b"\x00" * 9)


def test_compact_text_uses_utf16_only_when_shorter() -> None:
    assert compact_text("ABC123") == "ABC123"
    assert compact_text("山东鲁信智造科技有限公司") == "山东鲁信智造科技有限公司".encode("utf-16-be")
    assert compact_text("周*") == "周*"  # 4 bytes either way: keep text


@given(st.text(min_size=1, max_size=40))
def test_compact_text_round_trips_through_the_parser(text: str) -> None:
    value = compact_text(text)
    assert claims_mod._text_value(value, "x") == text


@pytest.mark.parametrize(
    "bad",
    [
        "ABC".encode("utf-16-be"),  # longer than its UTF-8: not the canonical form
        b"\xd8\x00\x4e\x00",  # lone surrogate
        b"\x4e",  # odd length
        b"",
    ],
)
def test_bad_utf16_text_is_refused(bad: bytes) -> None:
    with pytest.raises(PayloadError):
        claims_mod._text_value(bad, "x")


def test_fast_licence_id_equals_build() -> None:
    for serial in ("1", "370100000123456", "JY23201000099999", "Z" * 32):
        for version in (1, 17, 999):
            fast = claims_mod._licence_id("11100000MB0143028R001", ISSUER, serial, version)
            slow = LicenceId.build("11100000MB0143028R001", ISSUER, serial, version)
            assert fast == slow and str(fast) == str(slow) and fast.check_ok
    # non-canonical input takes the slow path and is normalised exactly as build() does
    assert claims_mod._licence_id("11100000MB0143028R001", ISSUER, "ab1", 1) == LicenceId.build(
        "11100000MB0143028R001", ISSUER, "AB1", 1
    )


def test_fast_parse_equals_dataclass_constructor(world) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    issued = world.issued["business-licence-jinan"]
    msg = parse_sign1(unwrap(issued.qr_payload))
    parsed = parse_claims(
        msg.payload,
        issuer_code=issued.licence.id.issuer_code,
        area_code="370100",
        holder_types_of=lambda code: Catalog.default().get(code).holder_types,
    )
    rebuilt = claims_mod.LicenceClaims(**{f.name: getattr(parsed, f.name) for f in dataclasses.fields(parsed)})
    assert parsed == rebuilt and hash(parsed.id) == hash(rebuilt.id)
    assert parsed.id == issued.licence.id
    assert parsed.holder_name == issued.licence.holder.name
    assert parsed.holder_code == issued.licence.holder.code
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.holder_name = "x"  # type: ignore[misc]


def test_org_licence_uses_compact_forms(world) -> None:  # type: ignore[no-untyped-def]
    raw = _claims(world, "business-licence-jinan")
    assert isinstance(raw[K_ID][0], bytes) and len(raw[K_ID][0]) == 12
    assert isinstance(raw[K_HOLDER_CODE], bytes) and len(raw[K_HOLDER_CODE]) == 10
    assert isinstance(raw[K_HOLDER_NAME], bytes)  # UTF-16BE
    renewed = _claims(world, "driving-licence-renewed")
    assert isinstance(renewed[K_SUPERSEDES], list) and len(renewed[K_SUPERSEDES]) == 2


def test_long_forms_still_verify(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """Payloads written before the compact forms (text type code, text USCC, dotted supersedes) still verify."""
    issued = world.issued["driving-licence-renewed"]
    top = _top(world, "driving-licence-renewed")
    raw = top[claims_mod.K_LICENCE]
    raw[K_ID][0] = issued.licence.id.type_code
    raw[K_HOLDER_NAME] = claims_mod._text_value(raw[K_HOLDER_NAME], "n")
    raw[K_SUPERSEDES] = str(issued.licence.supersedes)
    signer = world.home.signer(next(a for a in world.home.authorities if a.code == issued.licence.id.issuer_code))
    kid = parse_sign1(unwrap(issued.qr_payload)).kid
    text = wrap(sign1(cbor.dumps(top), signer, kid))
    old = verifier.verify(text, at=dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC))
    new = verifier.verify(issued.qr_payload, at=dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC))
    assert old.status is new.status
    assert old.licence is not None and new.licence is not None
    assert old.licence.supersedes == new.licence.supersedes == issued.licence.supersedes
    assert old.licence.id == new.licence.id


def test_sig_structure_is_the_deterministic_cbor() -> None:
    for protected in (b"", b"\xa2\x01\x26\x04\x48" + b"k" * 8):
        for n in (0, 23, 24, 255, 256, 70_000):
            payload = bytes(n)
            assert sig_structure(protected, payload) == cbor.dumps(["Signature1", protected, b"", payload])


def test_header_cache_does_not_leak_between_messages(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """A good header parsed (and cached) first does not make a bad one with other bytes pass."""
    text = world.issued["business-licence-jinan"].qr_payload
    assert verifier.verify(text)
    parts = list(cbor2.loads(unwrap(text)).value)
    parts[0] = cbor.dumps({1: -7, 4: parse_sign1(unwrap(text)).kid, 3: 0})
    forged = wrap(cbor.dumps(cbor.tag(18, parts)))
    result = verifier.verify(forged)
    assert result.status is Status.INVALID and result.has_reason("payload_malformed")


# -- issue 8, round 2: canonical COSE shortcut, lane Base45, USCC pair tables, result fast constructor ---------


def _outcome(fn, arg):  # type: ignore[no-untyped-def]
    try:
        return fn(arg)
    except PayloadError as exc:
        return ("error", type(exc).__name__)


@given(st.data())
def test_canonical_cose_shortcut_agrees_with_the_general_parser(world, data) -> None:  # type: ignore[no-untyped-def]
    """Mutated messages (bytes flipped, cut, appended): the shortcut accepts and refuses exactly what the
    strict general parser does, and parses to the same message."""
    from elicense.qr.cose import _parse_general

    good = unwrap(world.issued[data.draw(st.sampled_from(sorted(world.issued)))].qr_payload)
    assert parse_sign1(good) == _parse_general(good)
    mutated = bytearray(good)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    tail = data.draw(st.binary(max_size=3))
    for candidate in (bytes(mutated), bytes(mutated[:cut]), bytes(mutated) + tail):
        assert _outcome(parse_sign1, candidate) == _outcome(_parse_general, candidate)


def test_cose_shortcut_refuses_non_minimal_heads_and_trailing_bytes(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr.cose import _parse_canonical

    good = unwrap(world.issued["business-licence-jinan"].qr_payload)
    assert _parse_canonical(good) is not None
    assert _parse_canonical(good + b"\x00") is None  # trailing bytes: general parser refuses them
    with pytest.raises(PayloadError):
        parse_sign1(good + b"\x00")
    protected_len = good[2] - 0x40
    long_head = good[:2] + bytes((0x58, protected_len)) + good[3:]  # same value, non-minimal length head
    assert _parse_canonical(long_head) is None
    with pytest.raises(PayloadError, match="canonical"):  # the general parser decides: a second encoding
        parse_sign1(long_head)


@given(st.binary(max_size=600))
def test_lane_base45_round_trips(data: bytes) -> None:
    from elicense.qr.base45 import b45decode, b45encode

    assert b45decode(b45encode(data)) == data


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=12))
def test_lane_base45_agrees_with_the_base45_package(text: str) -> None:
    import base45

    from elicense.qr.base45 import b45decode

    try:
        expected: object = base45.b45decode(text)
    except ValueError:
        expected = "error"
    assert _outcome(b45decode, text) == (expected if expected != "error" else ("error", "PayloadError"))


@given(st.integers(0, 31**16 - 1))
def test_uscc_pair_tables_equal_the_reference(n: int) -> None:
    assert claims_mod._uscc_from_value(n) == uscc_from_value_reference(n)
    assert claims_mod._uscc_from_value_fast(n) == uscc_from_value_reference(n)  # head cached or not
    assert claims_mod._uscc_from_value_fast(n) == uscc_from_value_reference(n)


def test_result_fast_constructor_sets_every_field(world, verifier) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from elicense.verify.result import VerificationResult

    result = verifier.verify(world.issued["business-licence-jinan"].qr_payload)
    assert set(vars(result)) == {f.name for f in dataclasses.fields(VerificationResult)}
    assert result == VerificationResult(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = Status.INVALID  # type: ignore[misc]


def test_claims_with_simple_values_are_refused_without_the_walk(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """``loads_typed`` skips the plain-value walk: parse_claims' own type checks must refuse undefined/simple."""
    issued = world.issued["business-licence-jinan"]
    raw = cbor.dumps(_top(world, "business-licence-jinan"))
    lic = issued.licence
    for key_byte, undefined in ((b"\x04", b"\xf7"), (b"\x04", b"\xf0"), (b"\x05", b"\xf7")):
        # set exp (4) / nbf (5) to undefined / simple(16)
        claims = cbor2.loads(raw)
        claims.pop(int.from_bytes(key_byte, "big"), None)
        body = cbor.dumps(claims)
        n = body[0] & 0x1F
        forged_claims = bytes((0xA0 | (n + 1),)) + body[1:] + key_byte + undefined
        with pytest.raises(PayloadError):
            parse_claims(
                forged_claims,
                issuer_code=lic.id.issuer_code,
                area_code="370100",
                holder_types_of=lambda code: Catalog.default().get(code).holder_types,
            )


@given(st.binary(min_size=64, max_size=64), st.integers(0, 32), st.integers(0, 32))
def test_der_signature_equals_encode_dss_signature(sig: bytes, zeros_r: int, zeros_s: int) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from elicense.verify.verifier import _der_signature

    sig = bytes(zeros_r) + sig[zeros_r:32] + bytes(zeros_s) + sig[32 + zeros_s :]  # leading zeros, up to all zero
    assert len(sig) == 64
    expected = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    assert _der_signature(sig) == expected


def test_time_fast_path_is_require_utc(verifier) -> None:  # type: ignore[no-untyped-def]
    from elicense.errors import UsageError

    aware = dt.datetime(2026, 6, 1, 16, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert verifier._time(aware) == aware and verifier._time(aware).tzinfo is dt.UTC
    utc = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
    assert verifier._time(utc) is utc
    with pytest.raises(UsageError):
        verifier._time(dt.datetime(2026, 6, 1, 8))  # naive


# -- issue 8, round 3: the claims fast path agrees with parse_claims_strict --------------------------------------

_ODD_VALUES = (
    None, True, False, -1, 0, 1, 23, 24, 999, 1000, 2**32, 2**40, 10**19, 2**64 - 1, 1.5, "", "x", "x" * 513, "张三",
    "abc.def", "ab1", "Z" * 33, b"", b"\x00", b"\x4e\x2d", b"\xd8\x00\x00\x41", b"\x00A", b"\x00" * 10, b"\xff" * 10,
    b"\x00" * 12, b"\xff" * 12, b"\x00" * 16, b"\x00" * 1026, [], [1], [b"\x00" * 12, 1, 1], {}, {1: "x"},
    {0: "x"}, {256: 1}, {1: b"\x4e\x2d"}, {1: ""}, {1: b""}, {1: 1.5}, {1: [1]}, {"a": 1}, {1: "x" * 513},
    {1: b"\x4e\x2d" * 300}, ["1", 1],
)  # fmt: skip
_KEYS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, -1, -3, -4, -255, -256, -65537, -65536)


def _claims_outcome(fn, data: bytes, holder_types: tuple[str, ...]):  # type: ignore[no-untyped-def]
    try:
        return fn(data, issuer_code=ISSUER, area_code="370100", holder_types_of=lambda code: holder_types)
    except PayloadError as exc:
        return ("error", type(exc).__name__, exc.message)


@given(st.data())
def test_claims_fast_path_agrees_with_the_strict_parser(world, data) -> None:  # type: ignore[no-untyped-def]
    """Real claims maps with values replaced, removed or added, encoded canonically or not, bytes cut, flipped
    or appended: ``parse_claims`` returns (or raises) exactly what ``parse_claims_strict`` does."""
    name = data.draw(st.sampled_from(sorted(world.issued)))
    top = _top(world, name)
    inner = top[claims_mod.K_LICENCE]
    claims = inner if data.draw(st.booleans()) else top  # mutate the licence map or the CWT claims set
    for _ in range(data.draw(st.integers(0, 3))):
        key = data.draw(st.sampled_from(_KEYS))
        if data.draw(st.booleans()):
            claims.pop(key, None)
        else:
            claims[key] = data.draw(st.sampled_from(_ODD_VALUES))
    if data.draw(st.booleans()) and isinstance(claims.get(K_ID), list) and len(claims[K_ID]) == 3:
        part = data.draw(st.integers(0, 2))
        claims[K_ID] = list(claims[K_ID])
        claims[K_ID][part] = data.draw(st.sampled_from((*_ODD_VALUES, "JY2370102", 12345, "1", "0" * 32)))
    if type(top.get(6)) is int and data.draw(
        st.booleans()
    ):  # nbf / exp values that are not a day's midnight, or nbf on iat's day
        top[data.draw(st.sampled_from((4, 5)))] = data.draw(
            st.sampled_from(
                (
                    top[6] - (top[6] + 28800) % 86400,
                    top[6] - top[6] % 86400,
                    top[6],
                    86400 - 28800,
                    0,
                    -28800,
                    2**40 * 86400,
                    1.0 * 86400,
                )
            )
        )
    encoded = cbor2.dumps(top, canonical=data.draw(st.booleans()))
    mutated = bytearray(encoded)
    for _ in range(data.draw(st.integers(0, 2))):
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    holder_types = data.draw(st.sampled_from(((), ("001",), ("111",), ("001", "111"), ("999",))))
    for candidate in (encoded, bytes(mutated), bytes(mutated[:cut]), encoded + data.draw(st.binary(max_size=2))):
        fast = _claims_outcome(parse_claims, candidate, holder_types)
        strict = _claims_outcome(claims_mod.parse_claims_strict, candidate, holder_types)
        assert fast == strict
        if not isinstance(fast, tuple):  # same types too (a str subclass or an int for a str would compare equal)
            assert {k: type(v) for k, v in vars(fast).items()} == {k: type(v) for k, v in vars(strict).items()}
            assert type(fast.id.serial) is str and type(fast.id.check_char) is str


def test_claims_fast_path_reads_every_demo_licence(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every demo payload but the one with ``supersedes`` takes the fast path (and equals the strict answer)."""
    catalog = Catalog.default()
    strict = claims_mod.parse_claims_strict
    calls: list[str] = []
    current = [""]

    def counting(data: bytes, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(current[0])
        return strict(data, **kwargs)

    monkeypatch.setattr(claims_mod, "parse_claims_strict", counting)
    for name, issued in world.issued.items():
        current[0] = name
        payload = parse_sign1(unwrap(issued.qr_payload)).payload
        issuer = issued.licence.id.issuer_code
        fast = parse_claims(
            payload, issuer_code=issuer, area_code="370100", holder_types_of=lambda code: catalog.get(code).holder_types
        )
        assert fast == strict(
            payload, issuer_code=issuer, area_code="370100", holder_types_of=lambda code: catalog.get(code).holder_types
        )
    assert (
        calls == [name for name in world.issued if K_SUPERSEDES in _claims(world, name)] == ["driving-licence-renewed"]
    )


def _chain_reference(store, key, signed_at, at):  # type: ignore[no-untyped-def]
    """``StatusStore.check_chain`` as written before its summary shortcut: the loops over the facts."""
    if not store.check_certificates:
        return ()
    facts = store.chains.get(key.certificate)
    if facts is None:
        return ("revocation_unknown",)
    for _, rev in facts.revoked:
        if rev.effective <= signed_at:
            return ("signing_key_revoked",)
    if facts.missing:
        return ("revocation_unknown",)
    for crl in facts.crls:
        if at > crl.next_update:
            return ("revocation_stale",)
    return ()


@given(st.data())
def test_status_store_shortcuts_agree_with_the_loops(verifier, data) -> None:  # type: ignore[no-untyped-def]
    """check_chain's cached summary and check_licence's inline bit read answer as the loops and ``state()`` do,
    also with revocations, missing CRLs and times around every next update (dates drawn across the span)."""
    import dataclasses

    from elicense.status.crl import RevokedCert
    from elicense.status.reasons import ListState
    from elicense.status.store import ChainRevocation

    store = verifier.status
    keys = [k for ks in verifier.trust.keys.values() for k in ks]
    key = data.draw(st.sampled_from(keys))
    base = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    moment = st.integers(-4000, 4000).map(lambda d: base + dt.timedelta(days=d))
    facts = store.chains[key.certificate]
    variant = data.draw(st.sampled_from(("as is", "revoked", "missing")))
    if variant != "as is":
        revoked = tuple(("ca", RevokedCert(1, data.draw(moment))) for _ in range(data.draw(st.integers(1, 3))))
        facts = ChainRevocation(
            revoked if variant == "revoked" else (), facts.crls, ("ca",) if variant == "missing" else ()
        )
        store = dataclasses.replace(store, chains={key.certificate: facts})
    for _ in range(3):
        signed_at, at = data.draw(moment), data.draw(moment)
        found = store.check_chain(key, signed_at, at)
        assert tuple(r.code for r in found) == _chain_reference(store, key, signed_at, at)
    lst = data.draw(st.sampled_from(sorted(store.lists.values(), key=lambda x: x.issuer)))
    index = data.draw(st.integers(0, lst.size + 2))
    at = data.draw(st.sampled_from((lst.next_update, lst.next_update + dt.timedelta(microseconds=1), base)))
    found = store.check_licence(lst.issuer, index, at)
    if at > lst.next_update or index >= lst.size:
        assert len(found) == 1
    elif lst.state(index) is ListState.VALID:
        assert found == ()
    else:
        detail = lst.detail(index)
        assert detail is not None
        assert (found == ()) == (detail.since is not None and at < detail.since)


def test_status_store_reads_revoked_entries(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """The inline bit read sees the demo world's revoked and suspended licences (not only VALID entries)."""
    for name, code in (
        ("business-licence-revoked", "licence_revoked"),
        ("food-business-licence-suspended", "licence_suspended"),
    ):
        result = verifier.verify(world.issued[name].qr_payload)
        assert result.status is Status.INVALID and result.has_reason(code), name


# -- issue 8, round 3: batch output ------------------------------------------------------------------------------

_NASTY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\n\t\x00\u2028/'),
    min_size=1,
    max_size=12,
)


def _json_reference(result, lang: str, line: int | None = None) -> str:  # type: ignore[no-untyped-def]
    import json

    obj = result.to_dict(lang)
    return json.dumps(obj if line is None else {"line": line, **obj}, ensure_ascii=False)


def test_to_json_is_json_dumps_of_to_dict_for_every_demo_result(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """Valid, expired, revoked, suspended, superseded licences, malformed and unknown-key payloads, other times."""
    texts = [issued.qr_payload for issued in world.issued.values()]
    texts += ["garbage", "EL2:", "EL2:" + "A" * 120, texts[0][:-4] + "AAAA"]
    for at in (None, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2040, 1, 1, tzinfo=dt.UTC)):
        for text in texts:
            result = verifier.verify(text, at=at)
            for lang in ("en", "zh"):
                assert result.to_json(lang) == _json_reference(result, lang)
                assert result.to_json(lang, line=12) == _json_reference(result, lang, 12)


@given(st.data())
def test_to_json_is_json_dumps_of_to_dict_for_any_values(world, verifier, data) -> None:  # type: ignore[no-untyped-def]
    """Claims with quotes, backslashes, control and non-BMP characters; fields, reasons, missing parts."""
    import dataclasses

    from elicense.verify.result import Check, CheckOutcome, Reason, VerificationResult

    base = verifier.verify(world.issued[data.draw(st.sampled_from(sorted(world.issued)))].qr_payload)
    assert base.licence is not None
    lic = dataclasses.replace(
        base.licence,
        holder_name=data.draw(_NASTY_TEXT),
        holder_code=data.draw(_NASTY_TEXT),
        number=data.draw(_NASTY_TEXT),
        status_index=data.draw(st.none() | st.integers(0, 2**32 - 1)),
        valid_until=data.draw(st.none() | st.dates()),
        area_code=data.draw(_NASTY_TEXT),
    )
    fields = data.draw(st.dictionaries(_NASTY_TEXT, _NASTY_TEXT | st.integers(), max_size=3))
    reasons = tuple(
        Reason("x", Status.INVALID, data.draw(_NASTY_TEXT), data.draw(_NASTY_TEXT), data.draw(st.none() | _NASTY_TEXT))
        for _ in range(data.draw(st.integers(0, 2)))
    )
    checks = (*base.checks, Check(data.draw(_NASTY_TEXT), CheckOutcome.FAILED, data.draw(st.none() | _NASTY_TEXT)))
    result = dataclasses.replace(
        base,
        licence=data.draw(st.sampled_from((lic, None))),
        fields=fields,
        reasons=reasons,
        checks=checks,
        licence_type=data.draw(st.sampled_from((base.licence_type, None))),
        issuer=data.draw(st.sampled_from((base.issuer, None))),
        disclosed=data.draw(st.sampled_from((None, (), ("holder_name",)))),
        kind=data.draw(st.sampled_from(("qr", "pdf"))),
    )
    assert isinstance(result, VerificationResult)
    for lang in ("en", "zh"):
        assert result.to_json(lang) == _json_reference(result, lang)
        assert result.to_json(lang, line=3) == _json_reference(result, lang, 3)
