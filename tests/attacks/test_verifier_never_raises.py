"""Issue #16 item 3: one input must never stop the verifier (API, CLI, ``--batch``, the kiosk).

The attack: an ``EP1:`` presentation rebuilt from any MSO ever seen, with ``issued_at`` in
[253402300800, 2^40) (year 10000) and a junk device signature. Before the fix the verifier read
the unsigned time (``datetime.fromtimestamp``) before judging the device signature and raised:
CLI exit 4, a batch stopped, the kiosk answered 500 and dropped the genuine code in the same frame.
The property test rebuilds validly-structured, validly-signed payloads with every integer, time
and length field at its type's extreme values.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from elicense.cli import run
from elicense.errors import UsageError
from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation
from elicense.present import presentation as p
from elicense.qr import cbor
from elicense.qr.cose import sign1
from elicense.qr.payload import wrap as el1_wrap
from elicense.verify import Verifier
from elicense.verify.result import Status, VerificationResult

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
AT = "2026-06-01T08:00:00Z"
YEAR_10000 = 253_402_300_800


def _credential(world: Any, name: str = "business-licence-jinan") -> tuple[Any, SoftwareDeviceKey]:
    issued = world.issued[name]
    device = SoftwareDeviceKey.generate()
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    return issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1)), device


def _presentation(mso: bytes, *, iat: int, exp: int | None = None, nonce: bytes = b"\x07" * 12,
                  disclosed: dict[int, Any] | None = None, signature: bytes = bytes(64), alg: int = -7,
                  device: SoftwareDeviceKey | None = None) -> str:  # fmt: skip
    """An EP1 text around ``mso``; a junk signature unless ``device`` signs it."""
    body = cbor.dumps({1: mso, 2: nonce, 3: iat, 4: iat + 300 if exp is None else exp, 5: disclosed or {}})
    protected = cbor.dumps({1: alg})
    if device is not None:
        from elicense.crypto.algorithms import der_to_cose
        from elicense.qr.cose import sig_structure

        signature = der_to_cose(device.algorithm, device.sign(sig_structure(protected, body)))
    return p.wrap(cbor.dumps(cbor.tag(18, [protected, {}, body, signature])))


@pytest.fixture
def fresh(verifier: Verifier) -> Verifier:
    return Verifier(trust=verifier.trust, status=verifier.status, clock=lambda: NOW)


def test_attack_presentation_with_year_10000_issued_at_does_not_raise(world: Any, fresh: Verifier) -> None:
    cred, _ = _credential(world)
    for iat in (YEAR_10000, YEAR_10000 + 1, 2**40 - 1 - 300, 2**40 - 1):
        result = fresh.verify(_presentation(cred.mso, iat=iat, exp=iat))
        assert isinstance(result, VerificationResult)
        assert result.status is Status.INVALID
        assert [r.code for r in result.reasons] == ["presentation_device_signature_invalid"]
        checks = {c.name: c.outcome.value for c in result.checks}
        assert checks["presentation_validity"] == "SKIPPED" and checks["replay"] == "SKIPPED"
        assert result.disclosed == ()  # nothing the device did not sign is shown
        json.dumps(result.to_dict("zh"))


def test_attack_presentation_genuinely_signed_with_year_10000_times(world: Any, fresh: Verifier) -> None:
    """The holder's own device signs absurd times: INVALID with the times shown as numbers, never a crash."""
    cred, device = _credential(world)
    for iat, exp in ((YEAR_10000, YEAR_10000 + 300), (0, 2**40 - 1), (2**40 - 301, 2**40 - 1)):
        result = fresh.verify(_presentation(cred.mso, iat=iat, exp=exp, device=device, nonce=iat.to_bytes(12, "big")))
        assert result.status is Status.INVALID, result.reasons
        assert {r.code for r in result.reasons} <= {"presentation_not_yet_valid", "presentation_expired",
                                                    "presentation_lifetime_invalid"}  # fmt: skip
        json.dumps(result.to_dict("en"))


def test_attack_el1_signed_at_in_year_10000_is_malformed_not_a_crash(world: Any, fresh: Verifier) -> None:
    """A trusted key's payload whose signed_at no datetime can hold: INVALID payload_malformed."""
    issued = world.issued["business-licence-jinan"]
    claims = cbor.loads(_el1_claims(issued.qr_payload), max_depth=3)
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    for signed_at in (YEAR_10000, 2**40 - 1):
        claims[10] = signed_at
        result = fresh.verify(_resign(claims, signer))
        assert result.status is Status.INVALID and [r.code for r in result.reasons] == ["payload_malformed"]


def _el1_claims(payload: str) -> bytes:
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap

    return parse_sign1(unwrap(payload)).payload


def _resign(claims: dict[int, Any], signer: Any) -> str:
    from elicense.crypto.keys import key_id

    return el1_wrap(sign1(cbor.dumps(claims), signer, key_id(signer.certificate)))


def test_attack_at_out_of_range_is_a_usage_error(world: Any, fresh: Verifier, capsys: Any) -> None:
    payload = world.issued["business-licence-jinan"].qr_payload
    for at in (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), dt.datetime(1969, 12, 31, tzinfo=dt.UTC),
               dt.datetime.max.replace(tzinfo=dt.UTC), dt.datetime.min.replace(tzinfo=dt.UTC)):  # fmt: skip
        with pytest.raises(UsageError):
            fresh.verify(payload, at=at)
        with pytest.raises(UsageError):
            fresh.verify_presentation(payload, at=at)
    assert fresh.verify(payload, at=dt.datetime(9998, 12, 31, tzinfo=dt.UTC)).status is Status.INDETERMINATE  # stale
    for text in ("9999-12-31T23:59:59", "9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00+01:00", "1969-12-31"):
        code = run(["verify", "--trust", str(world.trust_file), "--at", text, payload])
        err = capsys.readouterr().err
        assert code == 3, (text, err)  # the exit code of usage errors, not 4 (internal)
        assert err.count("\n") == 1 and "Traceback" not in err and "--at" in err


def _batch_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "batch.txt"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_attack_bad_batch_line_does_not_stop_the_batch(world: Any, tmp_path: Path, capsys: Any, workers: str) -> None:
    cred, _ = _credential(world)
    bad = _presentation(cred.mso, iat=YEAR_10000)
    genuine = world.issued["business-licence-jinan"].qr_payload
    lines = [genuine, bad, "EL2:%%%", bad.replace("EP1:", "EP1: "), genuine] * 3
    path = _batch_file(tmp_path, lines)
    code = run(["verify", "--trust", str(world.trust_file), "--at", AT, "--batch", str(path), "--workers", workers])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["line"] for d in out] == list(range(1, len(lines) + 1))  # every line answered, in order
    statuses = [d["status"] for d in out]
    assert statuses[:5] == ["VALID", "INVALID", "INVALID", "INVALID", "VALID"] and statuses[5:10] == statuses[:5]
    assert code == 1


def test_attack_bad_presentation_in_cli_is_invalid_not_internal(world: Any, tmp_path: Path, capsys: Any) -> None:
    cred, _ = _credential(world)
    path = tmp_path / "p.txt"
    path.write_text(_presentation(cred.mso, iat=YEAR_10000))
    code = run(["verify", "--trust", str(world.trust_file), "--at", AT, "--json", str(path)])
    out = capsys.readouterr()
    assert code == 1, out.err
    assert json.loads(out.out)["reasons"][0]["code"] == "presentation_device_signature_invalid"


def _two_codes(first: str, second: str) -> bytes:
    """One photo holding two QR codes side by side (a camera frame with a bad and a genuine code)."""
    from PIL import Image

    from elicense.qr.render import qr_png

    a = Image.open(io.BytesIO(qr_png(first, scale=4))).convert("L")
    b = Image.open(io.BytesIO(qr_png(second, scale=4))).convert("L")
    frame = Image.new("L", (a.width + b.width + 40, max(a.height, b.height) + 40), 255)
    frame.paste(a, (10, 20))
    frame.paste(b, (a.width + 30, 20))
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("query", ["", "mode=camera"])
def test_attack_kiosk_frame_with_one_bad_code_answers_for_every_code(world: Any, query: str) -> None:
    from elicense.kiosk.server import make_app

    cred, _ = _credential(world)
    bad = _presentation(cred.mso, iat=YEAR_10000)
    genuine = world.issued["business-licence-jinan"].qr_payload
    app = make_app(Verifier.from_trust_file(world.trust_file, clock=lambda: NOW))
    response = app.handle("POST", "/api/verify", _two_codes(bad, genuine), query=query)
    assert response.status == 200, response.body[:300]
    doc = response.json()
    assert doc["count"] == 2 and sorted(r["status"] for r in doc["results"]) == ["INVALID", "VALID"]
    # and through WSGI, as a real client sees it
    statuses: list[str] = []
    body = _two_codes(bad, genuine)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/verify", "QUERY_STRING": query,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}  # fmt: skip
    chunks = app(environ, lambda status, headers: statuses.append(status))
    assert statuses[0].startswith("200") and json.loads(b"".join(chunks))["count"] == 2


# -- the property: extreme values in every integer, time and length field --------------------------

_EXTREMES = [0, -1, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40 - 1, 2**40, 2**63 - 1, 2**63, 2**64 - 1,
             -(2**63), -(2**64), YEAR_10000, YEAR_10000 - 1, 10**19, 10**19 - 1]  # fmt: skip
_BYTES = [b"", b"\x00", bytes(15), bytes(16), bytes(17), bytes(33), bytes(64), b"\xff" * 1000, bytes(3000)]
_TEXTS = ["", "a", "\u202e", "x" * 512, "x" * 513, "鲁" * 600]
_VALUE = st.one_of(
    st.sampled_from(_EXTREMES),
    st.sampled_from(_BYTES),
    st.sampled_from(_TEXTS),
    st.none(),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.lists(st.sampled_from(_EXTREMES), max_size=4),
)
# The payload is a CWT: registered claims at the top (exp 4, nbf 5, iat 6, cti 7) and the licence
# map under the private key -65537 (its own keys 2..15, fields under 12): both levels are mutated.
_CWT_KEYS = [4, 5, 6, 7, -65537, 1, 8]
_LICENCE = -65537
_EL1_KEYS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]
_MSO_KEYS = [2, 3, 6, 7, 8, 9, 10, 13, 14, 15, 20, 21]


def _never_raises(v: Verifier, payload: str) -> VerificationResult:
    result = v.verify(payload)
    assert isinstance(result, VerificationResult)
    assert "verification_error" not in [r.code for r in result.reasons], result.reasons  # no check crashed
    json.dumps(result.to_dict("zh"))
    result.to_json("en", line=1)
    return result


@pytest.fixture(scope="module")
def material(world: Any) -> dict[str, Any]:
    issued = world.issued["driving-licence-nanjing"]
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    device = SoftwareDeviceKey.generate()
    cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW - dt.timedelta(days=1))
    from elicense.qr.cose import parse_sign1

    return {"signer": signer, "device": device, "cred": cred,
            "el1": cbor.loads(_el1_claims(issued.qr_payload), max_depth=3),
            "mso": cbor.loads(parse_sign1(cred.mso).payload, max_depth=3)}  # fmt: skip


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _with(material: dict[str, Any], top: dict[int, Any], licence: dict[int, Any]) -> dict[int, Any]:
    """The genuine claims set with ``top`` CWT claims and ``licence`` map entries replaced."""
    claims = {**material["el1"], **top}
    inner = material["el1"][_LICENCE]
    if licence and isinstance(inner, dict) and _LICENCE not in top:
        claims[_LICENCE] = {**inner, **licence}
    return claims


@_SETTINGS
@example(top={6: YEAR_10000}, changes={}, fields={})
@example(top={4: YEAR_10000, 5: 2**64 - 1}, changes={}, fields={})
@given(
    top=st.dictionaries(st.sampled_from(_CWT_KEYS), _VALUE, max_size=2),
    changes=st.dictionaries(st.sampled_from(_EL1_KEYS), _VALUE, max_size=4),
    fields=st.dictionaries(st.sampled_from([0, 1, 2, 255, 256, -1, -2, 2**32]), _VALUE, max_size=3),
)
def test_attack_el1_claims_at_extreme_values_never_raise(
    material: dict[str, Any], fresh: Verifier, top: dict[int, Any], changes: dict[int, Any], fields: dict[int, Any]
) -> None:
    licence = dict(changes)
    if fields:
        licence[12] = fields
    _never_raises(fresh, _resign(_with(material, top, licence), material["signer"]))


_PRES_FIELDS = ["iat", "exp", "nonce", "disclosed_id", "disclosed_salt", "disclosed_value", "alg",
                *(f"mso{k}" for k in _MSO_KEYS)]  # fmt: skip


def _extreme_presentation(material: dict[str, Any], extremes: dict[str, Any], signed: bool) -> str:
    """A genuine presentation but for the ``extremes`` fields; the device signs it when ``signed``."""
    cred = material["cred"]
    mso = cred.mso
    changes = {int(k[3:]): v for k, v in extremes.items() if k.startswith("mso")}
    if changes:  # an MSO the trusted issuer key signed, with extreme claims
        from elicense.crypto.keys import key_id

        signer = material["signer"]
        mso = sign1(cbor.dumps({**material["mso"], **changes}), signer, key_id(signer.certificate))
    iat = extremes.get("iat", int(NOW.timestamp()))
    element = cred.elements["holder_name"]
    eid = extremes.get("disclosed_id", element.id)
    eid = repr(eid) if isinstance(eid, list | dict) else eid  # a map key must be hashable to be encoded
    disclosed = {eid: [extremes.get("disclosed_salt", element.salt), extremes.get("disclosed_value", element.value)]}
    body = cbor.dumps({1: mso, 2: extremes.get("nonce", b"\x07" * 12), 3: iat,
                       4: extremes.get("exp", iat + 300 if type(iat) is int else 0), 5: disclosed})  # fmt: skip
    protected = cbor.dumps({1: extremes.get("alg", -7)})
    signature = bytes(64)
    if signed:  # the holder's own device signs whatever the body holds
        from elicense.crypto.algorithms import der_to_cose
        from elicense.qr.cose import sig_structure

        device = material["device"]
        signature = der_to_cose(device.algorithm, device.sign(sig_structure(protected, body)))
    return p.wrap(cbor.dumps(cbor.tag(18, [protected, {}, body, signature])))


_ALL_VALUES = [*_EXTREMES, *_BYTES, *_TEXTS, None, True, [], {}, [2**64 - 1] * 3]


def test_attack_every_field_at_every_extreme_value_never_raises(material: dict[str, Any], fresh: Verifier) -> None:
    """Exhaustive: each EL1 claim and each presentation field (body and signed MSO), one at a time."""
    assert isinstance(material["el1"][_LICENCE], dict)  # the CWT layout this test mutates
    for key in _CWT_KEYS:
        for value in _ALL_VALUES:
            _never_raises(fresh, _resign(_with(material, {key: value}, {}), material["signer"]))
    for key in _EL1_KEYS:
        for value in _ALL_VALUES:
            _never_raises(fresh, _resign(_with(material, {}, {key: value}), material["signer"]))
    for name in _PRES_FIELDS:
        for value in _ALL_VALUES:
            for signed in (False, True):
                _never_raises(fresh, _extreme_presentation(material, {name: value}, signed))


@_SETTINGS
@example(extremes={"iat": YEAR_10000}, signed=False)
@example(extremes={"iat": 2**40 - 1, "exp": 2**40 - 1}, signed=True)
@given(extremes=st.dictionaries(st.sampled_from(_PRES_FIELDS), _VALUE, min_size=1, max_size=3),
       signed=st.booleans())  # fmt: skip
def test_attack_presentations_at_extreme_values_never_raise(
    material: dict[str, Any], fresh: Verifier, extremes: dict[str, Any], signed: bool
) -> None:
    """Combinations: a genuine presentation but for one to three fields at extreme values (of any type)."""
    text = _extreme_presentation(material, extremes, signed)
    _never_raises(fresh, text)
    assert isinstance(fresh.verify_presentation(text), VerificationResult)


def test_attack_genuine_presentation_still_valid_after_the_fixes(world: Any, fresh: Verifier) -> None:
    cred, device = _credential(world)
    result = fresh.verify(make_presentation(cred, device, show=["holder_name"], now=NOW).payload)
    assert result.status is Status.VALID and result.disclosed == ("holder_name",)


def test_pdf_check_that_cannot_complete_is_a_result(world: Any, fresh: Verifier, monkeypatch: Any) -> None:
    """The PDF path's last line of defence: an unexpected failure deep in a PDF check is INDETERMINATE
    ``verification_error`` (the kiosk answers 200), while typed refusals still reach the caller."""
    import elicense.pdf.verify as pdf_verify
    from elicense.errors import InputError
    from elicense.kiosk.server import make_app

    def broken(*args: Any, **kwargs: Any) -> VerificationResult:
        raise RecursionError("deep object graph")

    monkeypatch.setattr(pdf_verify, "verify_pdf", broken)
    result = fresh.verify_pdf(b"%PDF-1.7\n")
    assert result.status is Status.INDETERMINATE and result.kind == "pdf"
    assert [r.code for r in result.reasons] == ["verification_error"]
    answer = make_app(fresh).handle("POST", "/api/verify", b"%PDF-1.7\n")
    assert answer.status == 200 and answer.json()["status"] == "INDETERMINATE"

    def refused(*args: Any, **kwargs: Any) -> VerificationResult:
        raise InputError("too many revisions")

    monkeypatch.setattr(pdf_verify, "verify_pdf", refused)
    with pytest.raises(InputError):
        fresh.verify_pdf(b"%PDF-1.7\n")
