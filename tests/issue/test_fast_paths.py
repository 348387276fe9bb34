"""The bulk-issuing fast paths give exactly what the general code gives (formats byte-identical)."""

from __future__ import annotations

import random
import string

import base45
import pytest

from elicense.identifiers import LicenceId
from elicense.issue import _licence_id
from elicense.qr import cbor
from elicense.qr.base45 import b45decode, b45encode

TYPE, ISSUER = "11100000MB0143028R001", "11100000MB0143028R"


def test_b45encode_matches_the_base45_package() -> None:
    rng = random.Random(7)
    for n in [*range(0, 40), 187, 300, 301]:
        for _ in range(10):
            data = bytes(rng.randrange(256) for _ in range(n))
            ref = base45.b45encode(data)
            assert b45encode(data) == (ref.decode() if isinstance(ref, bytes) else ref)
            assert b45decode(b45encode(data)) == data
    edge = b"\xff\xff\x00\x00\x07\xe8\x07\xe9\x07\xe7\xff"
    ref = base45.b45encode(edge)
    assert b45encode(edge) == (ref.decode() if isinstance(ref, bytes) else ref)


@pytest.mark.parametrize("serial", ["0", "1", "ABC", "S" + "9" * 25, "Z" * 32, "Z" * 33, "abc", " 1", "１", ""])
@pytest.mark.parametrize("version", [1, 2, 999, 0, 1000, True])
def test_licence_id_fast_path_is_licence_id_build(serial: str, version: int) -> None:
    def outcome(fn: object) -> tuple[str, str]:
        try:
            lid = fn(TYPE, ISSUER, serial, version)  # type: ignore[operator]
        except Exception as exc:  # the same refusal either way
            return "error", f"{type(exc).__name__}: {exc}"
        assert isinstance(lid, LicenceId) and lid.check_ok
        return "ok", f"{lid}|{lid.serial}|{lid.version}|{hash(lid)}"

    assert outcome(_licence_id) == outcome(LicenceId.build)


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return "".join(rng.choice(string.ascii_letters + "中文é_") for _ in range(rng.randrange(30)))
    if kind == 1:
        return rng.randrange(-(2**70), 2**70)
    if kind == 2:
        return None
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4:
        return {_key(rng): _value(rng, depth + 1) for _ in range(rng.randrange(5))}
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(3)]
    return 1.5  # a float: the plain encoding differs, so the canonical mode must be used


def _key(rng: random.Random) -> str | int:
    """Text keys, and integer keys (QR claims: small ones, negative field tags, and heads of every width)."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randrange(-30, 30)
    if kind == 1:
        return rng.choice((1, -1)) * rng.randrange(2 ** rng.choice((5, 8, 16, 32, 63, 64, 70)))
    return "".join(rng.choice(string.ascii_letters + "中文é_") for _ in range(rng.randrange(30)))


def test_keyed_encoding_is_the_canonical_encoding() -> None:
    rng = random.Random(3)
    fast = 0
    for _ in range(3000):
        value = {_key(rng): _value(rng) for _ in range(rng.randrange(12))}
        assert cbor.dumps_keyed(value) == cbor.dumps(value)
        fast += cbor._ordered(value) is not cbor._UNORDERABLE
    assert fast > 300  # the ordered path was taken, not only the fallback
    assert cbor.dumps_keyed({"aa": 1, "b": 2, "中": 3}) == cbor.dumps({"b": 2, "aa": 1, "中": 3})


def test_qr_claims_take_the_ordered_path_and_equal_cbor2_canonical_mode() -> None:
    """The QR claims (integer keys, negative field tags, bytes, lists) are encoded by the ordered path, and
    byte for byte as cbor2's own canonical mode encodes them: the signed bytes did not change."""
    import datetime as dt

    import registry_support as rs
    from elicense.catalog import Catalog
    from elicense.model import Authority
    from elicense.qr import claims
    from elicense.registry.batch import plan_batch

    lt = Catalog.default().get(rs.TYPE)
    authority = Authority("济南市行政审批服务局", "11370100MB28571989", "370100")
    plan = plan_batch(rs.csv_bytes([rs.row(i) for i in range(30)]), licence_type=lt, authority=authority,
                      at=rs.NOW)  # fmt: skip
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    for r in plan.rows:
        assert r.licence is not None
        lic = r.licence.with_status_index(r.row * 11)
        cwt = claims.to_cwt(claims.flat_claims(lic, lt, signed_at=at))
        assert cbor._ordered(cwt) is not cbor._UNORDERABLE
        assert claims.build_claims(lic, lt, signed_at=at) == cbor.dumps(cwt) == cbor.cbor2.dumps(cwt, canonical=True)
        record = {"v": claims.CLAIMS_VERSION, **lic.to_dict(), "source_id": None}
        assert claims.full_record(lic) == cbor.cbor2.dumps(record, canonical=True)


def test_sign_licences_gives_what_sign_licence_gives_and_the_verifier_accepts_it(world, verifier) -> None:  # type: ignore[no-untyped-def]
    """The bulk signer, step by step over many licences, signs each licence's bytes as signing it alone does
    (nothing is paired with another licence's record or claims; signatures aside: ECDSA draws a fresh
    nonce), and the verifier finds each licence VALID."""
    import dataclasses
    import datetime as dt

    from elicense.home import Home
    from elicense.issue import sign_licence, sign_licences
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap

    home = Home.load(world.home.path)
    issued_before = [i for i in world.issued.values() if verifier.verify(i.qr_payload)][:6]
    licences = [dataclasses.replace(i.licence, status_index=i.licence.status_index) for i in issued_before]
    entry = home.authority(licences[0].issuer.code)
    licences = [lic for lic in licences if lic.issuer.code == entry.code]
    assert licences
    signer = home.signer(entry)
    at = dt.datetime(2026, 5, 30, tzinfo=dt.UTC)
    bulk = sign_licences(licences, signer, at=at)
    one = [sign_licence(lic, signer, at=at) for lic in licences]
    for b, o in zip(bulk, one, strict=True):
        assert b.licence == o.licence and b.signed_at == o.signed_at
        for x, y in ((unwrap(b.qr_payload), unwrap(o.qr_payload)), (b.full_payload, o.full_payload)):
            px, py = parse_sign1(x), parse_sign1(y)
            assert (px.protected, px.payload) == (py.protected, py.payload)
        assert verifier.verify(b.qr_payload)


def _of_and_chain_outcomes(**values: object) -> tuple[tuple[str, str], tuple[str, str]]:
    """What ``LicenceBuilder.of(**values).build()`` and the seven setters chained give: the licence, or the refusal."""
    from elicense.issue import LicenceBuilder
    from elicense.model import Validity

    def outcome(make: object) -> tuple[str, str]:
        try:
            return "licence", repr(make().serial("S1").build())  # type: ignore[operator]
        except Exception as exc:  # the same refusal either way
            return "error", f"{type(exc).__name__}: {exc}"

    def chain() -> LicenceBuilder:
        v = values["validity"]
        start, end = (v.start, v.end) if isinstance(v, Validity) else (v, None)
        return (
            LicenceBuilder().licence_type(values["licence_type"]).holder(values["holder"])  # type: ignore[arg-type]
            .issuer(values["issuer"]).issued_on(values["issued_on"]).validity(start, end)  # type: ignore[arg-type]
            .source_id(values["source_id"]).fields(values["fields"])  # type: ignore[arg-type]
        )  # fmt: skip

    return outcome(lambda: LicenceBuilder.of(**values)), outcome(chain)  # type: ignore[arg-type]


def test_builder_of_gives_what_the_chained_setters_give(world) -> None:  # type: ignore[no-untyped-def]
    """Bulk planning makes a row's builder at once (``LicenceBuilder.of``): the same licence, and the same refusal
    for every value a setter refuses."""
    import datetime as dt

    from elicense.catalog import Catalog
    from elicense.model import Validity

    issued = world.issued["business-licence-jinan"].licence
    good: dict[str, object] = {
        "licence_type": Catalog.default().get(issued.type_code), "holder": issued.holder, "issuer": issued.issuer,
        "issued_on": issued.issued_on, "validity": issued.validity, "source_id": " SRC-1 ",
        "fields": dict(issued.fields),
    }  # fmt: skip
    of, chained = _of_and_chain_outcomes(**good)
    assert of == chained and of[0] == "licence", of
    for key, bad in [
        ("holder", "not a holder"), ("issuer", "not an authority"), ("issued_on", dt.datetime(2026, 1, 1)),
        ("issued_on", "2026-01-01"), ("source_id", ""), ("source_id", "x" * 129), ("source_id", 7),
        ("fields", {"no_such_field": "x"}), ("holder", None),
    ]:  # fmt: skip
        of, chained = _of_and_chain_outcomes(**{**good, key: bad})
        assert of == chained and of[0] == "error", (key, bad, of, chained)
    of, _ = _of_and_chain_outcomes(**{**good, "validity": (issued.validity.start, None)})
    assert of[0] == "error" and "Validity" in of[1]
    assert isinstance(good["validity"], Validity)
