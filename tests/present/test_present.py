"""Presentation QR (亮证, ``EP1:``): round trips, selective disclosure and one test per attack class."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pytest

from elicense.crypto.algorithms import der_to_cose
from elicense.crypto.keys import SoftwareSigner, generate_private_key
from elicense.crypto.pki import make_root
from elicense.errors import UsageError
from elicense.present import (
    CLOCK_SKEW,
    HolderCredential,
    SoftwareDeviceKey,
    issue_holder_credential,
    make_presentation,
)
from elicense.present import presentation as p
from elicense.present.verify import Replay, ReplayCache
from elicense.qr import cbor
from elicense.qr.cose import parse_sign1, sig_structure
from elicense.qr.mso import element_digest, parse_mso
from elicense.qr.payload import wrap as el1_wrap
from elicense.qr.render import qr_version
from elicense.verify import Verifier
from elicense.verify.inputs import verify_bytes
from elicense.verify.result import Status

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


@pytest.fixture
def fresh(verifier: Verifier) -> Verifier:
    """A verifier over the session world's trust and status, with its own (empty) replay cache."""
    return Verifier(trust=verifier.trust, status=verifier.status, clock=lambda: NOW)


def credential(world: Any, name: str, device: SoftwareDeviceKey | None = None) -> tuple[HolderCredential, Any]:
    issued = world.issued[name]
    device = device or SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    return issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1)), device


def forge(
    cred: HolderCredential, device: Any, disclosed: Mapping[int, list[Any]], *, iat: int | None = None,
    ttl: int = 300, nonce: bytes = b"\x07" * 12, mso: bytes | None = None,
) -> str:  # fmt: skip
    """A presentation built by hand (what an attacker holding ``device`` can sign)."""
    iat = int(NOW.timestamp()) if iat is None else iat
    body = cbor.dumps({1: mso or cred.mso, 2: nonce, 3: iat, 4: iat + ttl, 5: dict(disclosed)})
    protected = cbor.dumps({1: device.algorithm.cose_id})
    signature = der_to_cose(device.algorithm, device.sign(sig_structure(protected, body)))
    return p.wrap(cbor.dumps(cbor.tag(18, [protected, {}, body, signature])))


def item(cred: HolderCredential, name: str) -> tuple[int, list[Any]]:
    e = cred.elements[name]
    return e.id, [e.salt, e.value]


def codes(result: Any) -> list[str]:
    return [r.code for r in result.reasons]


# -- round trips ---------------------------------------------------------------------------------


def test_round_trip_discloses_only_chosen_fields(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "driving-licence-nanjing")
    pres = make_presentation(cred, device, show=["holder_name", "vehicle_classes"], now=NOW)
    assert pres.payload.startswith("EP1:") and pres.expires_at - pres.issued_at == dt.timedelta(seconds=300)
    result = fresh.verify(pres.payload)  # Verifier.verify dispatches on the prefix
    assert result.status is Status.VALID, result.reasons
    assert result.kind == "presentation" and result.disclosed == ("holder_name", "vehicle_classes")
    licence = world.issued["driving-licence-nanjing"].licence
    assert result.licence is not None and str(result.licence.id) == str(licence.id)
    assert result.licence.holder_name == licence.holder.name  # full name: the holder chose to show it
    assert dict(result.fields) == {"vehicle_classes": licence.fields["vehicle_classes"]}
    view = result.to_dict("zh")["licence"]
    assert view["holder"] == licence.holder.name and view["holder_code"] is None
    assert view["disclosed"] == ["holder_name", "vehicle_classes"]
    json.dumps(result.to_dict())  # JSON-ready


def test_undisclosed_values_are_not_in_the_payload(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "driving-licence-nanjing")
    pres = make_presentation(cred, device, show=["vehicle_classes"], now=NOW)
    message = p.unwrap(pres.payload)
    for name, element in cred.elements.items():
        if name == "vehicle_classes" or not isinstance(element.value, str):
            continue
        assert element.value.encode("utf-8") not in message, name
        assert element.salt not in message, name
    result = fresh.verify_presentation(pres.payload)
    assert result.status is Status.VALID
    assert result.to_dict()["licence"]["holder"] is None and result.disclosed == ("vehicle_classes",)


def test_dates_and_nothing_disclosed(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "resident-id-card-nanjing")
    result = fresh.verify(make_presentation(cred, device, show=["date_of_birth"], now=NOW).payload)
    birth = world.issued["resident-id-card-nanjing"].licence.fields["date_of_birth"]
    assert result.status is Status.VALID and result.fields == {"date_of_birth": birth.isoformat()}
    bare = fresh.verify(make_presentation(cred, device, show=[], now=NOW).payload)
    assert bare.status is Status.VALID and bare.disclosed == () and bare.fields == {}


def test_ed25519_device_key(world: Any, fresh: Verifier) -> None:
    from elicense.crypto.algorithms import Algorithm

    cred, device = credential(world, "business-licence-jinan", SoftwareDeviceKey.generate(Algorithm.EDDSA))
    result = fresh.verify(make_presentation(cred, device, show=["holder_name"], now=NOW).payload)
    assert result.status is Status.VALID, result.reasons


def test_text_input_and_credential_json_round_trip(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-nanjing")
    again = HolderCredential.from_json(json.loads(json.dumps(cred.to_json())))
    assert again == cred
    pres = make_presentation(again, device, show=["holder_name", "holder_code"], now=NOW)
    [result] = verify_bytes(fresh, ("\ufeff  " + pres.payload + "\n").encode("utf-8"))
    assert result.status is Status.VALID and result.disclosed == ("holder_name", "holder_code")


def test_fits_a_phone_qr(world: Any) -> None:
    """A typical presentation (name + 1-2 fields) fits a version ≤ 20 QR (see specs/presentation.md §8)."""
    versions = {}
    for name in ("business-licence-jinan", "driving-licence-nanjing", "real-estate-title-nanjing"):
        cred, device = credential(world, name)
        show = [n for n in ("holder_name", "vehicle_classes", "unit_number", "legal_representative")
                if n in cred.elements][:3]  # fmt: skip
        versions[name] = qr_version(make_presentation(cred, device, show=show, now=NOW).payload)
    assert max(versions.values()) <= 20, versions


def test_holder_side_errors(world: Any) -> None:
    cred, device = credential(world, "business-licence-jinan")
    with pytest.raises(UsageError, match="holder_name"):
        make_presentation(cred, device, show=["no_such_field"], now=NOW)
    with pytest.raises(UsageError):
        make_presentation(cred, device, ttl=3601, now=NOW)
    with pytest.raises(UsageError):
        make_presentation(cred, device, now=NOW.replace(tzinfo=None))


# -- attacks -------------------------------------------------------------------------------------


def test_tampered_disclosed_value_is_invalid(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    eid, (salt, _) = item(cred, "holder_name")
    # the holder re-signs with a changed name: the issuer's digest does not match
    forged = forge(cred, device, {eid: [salt, "山东某某假冒有限公司"]})
    result = fresh.verify(forged)
    assert result.status is Status.INVALID and codes(result) == ["presentation_field_digest_mismatch"]
    # someone else changes a byte of a genuine presentation: the device signature breaks
    genuine = make_presentation(cred, device, show=["holder_name"], now=NOW)
    message = bytearray(p.unwrap(genuine.payload))
    name = cred.elements["holder_name"].value.encode("utf-8")
    at = bytes(message).index(name)
    message[at : at + 3] = "鲁".encode()
    result = fresh.verify(p.wrap(bytes(message)))
    assert result.status is Status.INVALID and "presentation_device_signature_invalid" in codes(result)


def test_field_swapped_from_another_licence_is_invalid(world: Any, fresh: Verifier) -> None:
    mine, device = credential(world, "business-licence-jinan")
    theirs, _ = credential(world, "business-licence-nanjing")
    eid, value = item(theirs, "holder_name")  # a genuine (salt, value) pair, digested in *their* MSO
    assert element_digest(eid, *value) not in parse_mso(parse_sign1(mine.mso).payload).digests.values()
    result = fresh.verify(forge(mine, device, {eid: value}))
    assert result.status is Status.INVALID and codes(result) == ["presentation_field_digest_mismatch"]
    # an element relabelled as another one (holder code's salt and value sent as the name)
    code_id, code_value = item(mine, "holder_code")
    result = fresh.verify(forge(mine, device, {4: code_value}, nonce=b"\x08" * 12))
    assert codes(result) == ["presentation_field_digest_mismatch"]
    assert code_id == 5


def test_mso_of_another_licence_with_my_device_key_is_invalid(world: Any, fresh: Verifier) -> None:
    """Swapping the whole MSO: the other licence's MSO binds another device key."""
    mine, device = credential(world, "business-licence-jinan")
    theirs, _ = credential(world, "business-licence-nanjing")
    result = fresh.verify(forge(mine, device, {}, mso=theirs.mso))
    assert result.status is Status.INVALID and codes(result) == ["presentation_device_signature_invalid"]


def test_forged_device_signature_is_invalid(world: Any, fresh: Verifier) -> None:
    cred, _ = credential(world, "business-licence-jinan")
    thief = SoftwareDeviceKey.generate()  # has a copy of the MSO and salts, not the phone's key
    result = fresh.verify(forge(cred, thief, dict([item(cred, "holder_name")])))
    assert result.status is Status.INVALID and codes(result) == ["presentation_device_signature_invalid"]
    assert result.licence is not None  # the issuer half verified, so the licence is reported
    # a zeroed signature
    cred2, device = credential(world, "business-licence-jinan")
    message = bytearray(p.unwrap(make_presentation(cred2, device, now=NOW).payload))
    message[-64:] = bytes(64)
    assert codes(fresh.verify(p.wrap(bytes(message)))) == ["presentation_device_signature_invalid"]


def test_tampered_mso_is_invalid_and_reports_nothing(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    mso = bytearray(cred.mso)
    mso[-1] ^= 1  # last byte of the issuer signature
    result = fresh.verify(forge(cred, device, {}, mso=bytes(mso)))
    assert result.status is Status.INVALID and codes(result) == ["signature_invalid"] and result.licence is None


def test_expiry_with_explicit_skew(world: Any, fresh: Verifier) -> None:
    assert dt.timedelta(seconds=30) == CLOCK_SKEW
    cred, device = credential(world, "business-licence-jinan")
    pres = make_presentation(cred, device, show=["holder_name"], ttl=300, now=NOW)
    exp = pres.expires_at
    ok = Verifier(trust=fresh.trust, status=fresh.status).verify(pres.payload, at=exp + CLOCK_SKEW)
    assert ok.status is Status.VALID, ok.reasons
    late = Verifier(trust=fresh.trust, status=fresh.status).verify(pres.payload, at=exp + CLOCK_SKEW + S)
    assert late.status is Status.INVALID and codes(late) == ["presentation_expired"]
    assert late.licence is not None and late.to_dict()["licence"]["holder"]  # what expired is still shown


def test_issued_in_the_future_beyond_skew(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    soon = make_presentation(cred, device, now=NOW + CLOCK_SKEW)
    assert fresh.verify(soon.payload).status is Status.VALID
    later = make_presentation(cred, device, now=NOW + CLOCK_SKEW + S)
    result = fresh.verify(later.payload)
    assert result.status is Status.INVALID and codes(result) == ["presentation_not_yet_valid"]


def test_lifetime_longer_than_allowed(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    result = fresh.verify(forge(cred, device, {}, ttl=p.MAX_TTL + 1))
    assert result.status is Status.INVALID and codes(result) == ["presentation_lifetime_invalid"]
    assert codes(fresh.verify(forge(cred, device, {}, ttl=0, nonce=b"\x09" * 12))) == ["presentation_lifetime_invalid"]


def test_replay_is_invalid(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    pres = make_presentation(cred, device, show=["holder_name"], now=NOW)
    assert fresh.verify(pres.payload).status is Status.VALID
    again = fresh.verify(pres.payload, at=NOW + 10 * S)
    assert again.status is Status.INVALID and codes(again) == ["presentation_replayed"]
    # the image of the same QR is the same presentation
    from elicense.qr.render import qr_png

    [img] = verify_bytes(fresh, qr_png(pres.payload), at=NOW + 20 * S)
    assert codes(img) == ["presentation_replayed"]
    # a fresh presentation of the same licence is fine
    assert fresh.verify(make_presentation(cred, device, now=NOW).payload).status is Status.VALID


def test_replay_cache_is_bounded_and_expires() -> None:
    cache = ReplayCache(max_entries=2, per_device=4)
    assert cache.check(b"a", b"A", expires=100, now=0) is Replay.FRESH
    assert cache.check(b"a", b"A", expires=100, now=50) is Replay.REPLAYED
    assert cache.check(b"b", b"B", expires=200, now=50) is Replay.FRESH
    assert cache.check(b"c", b"C", expires=300, now=60) is Replay.FULL  # every holder has one live id: refuse
    assert cache.check(b"c", b"C", expires=300, now=101) is Replay.FRESH  # "a" expired and was dropped
    assert len(cache) == 2 and cache.check(b"b", b"B", expires=200, now=150) is Replay.REPLAYED
    # the device-less form: one shared holder
    legacy = ReplayCache(max_entries=1)
    assert legacy.check_and_add(b"a", expires=100, now=0) is True
    assert legacy.check_and_add(b"a", expires=100, now=1) is False
    assert legacy.check_and_add(b"b", expires=100, now=1) is None


def test_saturated_replay_cache_is_indeterminate(world: Any, fresh: Verifier) -> None:
    cred, device = credential(world, "business-licence-jinan")
    v = Verifier(trust=fresh.trust, status=fresh.status, clock=lambda: NOW, replay_cache=ReplayCache(max_entries=1))
    assert v.verify(make_presentation(cred, device, now=NOW).payload).status is Status.VALID
    result = v.verify(make_presentation(cred, device, now=NOW).payload)
    assert result.status is Status.INDETERMINATE and codes(result) == ["presentation_replay_unchecked"]


def test_revoked_and_expired_licences_are_invalid(world: Any, fresh: Verifier) -> None:
    for name, code in (("business-licence-revoked", "licence_revoked"), ("food-business-licence-expired", "licence_expired"),
                       ("food-business-licence-suspended", "licence_suspended")):  # fmt: skip
        cred, device = credential(world, name)
        result = fresh.verify(make_presentation(cred, device, show=["holder_name"], now=NOW).payload)
        assert result.status is Status.INVALID and codes(result) == [code], (name, result.reasons)


def test_unknown_issuer_key_is_indeterminate(world: Any, verifier: Verifier) -> None:
    key = generate_private_key()
    cert = make_root(key, "未知发证机关", not_before=NOW - 100 * S, not_after=NOW + 10**6 * S)
    stranger = SoftwareSigner(key, cert)
    device = SoftwareDeviceKey.generate()
    cred = issue_holder_credential(world.issued["business-licence-jinan"].licence, stranger, device.public_key,
                                   at=NOW)  # fmt: skip
    result = verifier.verify(make_presentation(cred, device, now=NOW).payload)
    assert result.status is Status.INDETERMINATE and "unknown_key" in codes(result) and result.licence is None


def test_cross_format_confusion_is_refused(world: Any, fresh: Verifier) -> None:
    """An EL1 COSE is no MSO, and an MSO is no EL1 payload, although the same key signed both."""
    cred, device = credential(world, "business-licence-jinan")
    el1_cose = p.unwrap(world.issued["business-licence-jinan"].qr_payload.replace("EL2:", "EP1:", 1))
    result = fresh.verify(forge(cred, device, {}, mso=el1_cose))
    assert result.status is Status.INVALID and codes(result) == ["payload_malformed"]
    as_el1 = fresh.verify(el1_wrap(cred.mso))
    assert as_el1.status is Status.INVALID and codes(as_el1) == ["payload_malformed"] and as_el1.kind == "qr"


@pytest.mark.parametrize(
    "text",
    ["EP1:", "EP1:%%%%", "EP1:" + "A" * 5000, p.wrap(b"\xd2\x84\x40\xa0\x40\x40"), p.wrap(cbor.dumps([1, 2]))],
)
def test_malformed_presentations(fresh: Verifier, text: str) -> None:
    result = fresh.verify(text)
    assert result.status is Status.INVALID and codes(result)[0] in ("payload_malformed", "payload_too_large")
    direct = fresh.verify_presentation(text)
    assert direct.status is Status.INVALID and direct.kind == "presentation" and direct.licence is None


def test_el1_still_verifies(world: Any, fresh: Verifier) -> None:
    result = fresh.verify(world.issued["business-licence-jinan"].qr_payload)
    assert result.status is Status.VALID and result.kind == "qr" and result.disclosed is None
