"""Fuzz targets shared by the hypothesis properties and the atheris runner.

One :class:`Target` per decoder: its seeds (real, valid inputs of a deterministic demo world)
and a check ``run(data)`` that feeds ``data`` to the decoder and enforces the contract: the
only acceptable outcomes are a correct result or an :class:`ElicenseError` subclass; a
verification returns a ``VerificationResult`` and never VALID unless the signed bytes are the
genuine ones. Anything else (another exception, a wrong result) escapes as an exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2

from elicense.errors import ElicenseError

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
SEED = b"elicense-fuzz"


@dataclass(frozen=True)
class Target:
    """A decoder under fuzz."""

    name: str
    seeds: tuple[bytes, ...]
    """Valid inputs the mutations start from."""
    run: Callable[[bytes], None]
    """Feed one input; raises only on a contract violation."""
    text: bool = False
    """Seeds are ASCII text (mutations may also stay in the Base45 alphabet)."""


def typed_errors_only() -> AbstractContextManager[None]:
    """An ElicenseError is an acceptable outcome; any other exception escapes."""
    return suppress(ElicenseError)


@dataclass
class World:
    """What the targets need, built once per process."""

    dir: Path
    demo: Any
    verifier: Any
    bundle: bytes
    bundle_obj: Any
    bundle_signer: Any
    el1: dict[str, str]
    el1_cose: frozenset[bytes]
    ep1: str
    status_lists: tuple[bytes, ...]
    ses: Any = None


@functools.cache
def world() -> World:
    from elicense.crypto.keys import SoftwareSigner
    from elicense.demo import build_demo
    from elicense.present import make_presentation
    from elicense.qr.payload import unwrap
    from elicense.services.trust import _section, _signer
    from elicense.trust.bundle import load_bundle
    from elicense.verify import Verifier

    out = Path(tempfile.mkdtemp(prefix="elicense-fuzz-"))
    demo = build_demo(out, now=NOW, seed=SEED, images=False, pdf=False)
    verifier = Verifier.from_trust_file(demo.trust_file, clock=lambda: NOW)
    raw = demo.trust_file.read_bytes()
    bundle = load_bundle(raw)
    key, cert = _signer(demo.home, _section(demo.home)["national"])
    el1 = {name: issued.qr_payload for name, issued in demo.issued.items()}
    issued = demo.issued["business-licence-jinan"]
    cred, device = demo.home.holder_credential(str(issued.licence.id), at=NOW - dt.timedelta(days=1))
    ep1 = make_presentation(cred, device, show=list(cred.elements)[:2], now=NOW).payload
    status = json.loads(bundle.extras["status"])
    lists = tuple(base64.b64decode(x) for x in status["status_lists"])
    return World(
        out,
        demo,
        verifier,
        raw,
        bundle,
        SoftwareSigner(key, cert),
        el1,
        frozenset(unwrap(p) for p in el1.values()),
        ep1,
        lists,
    )


def _fresh_verifier() -> Any:
    """A verifier over the world's trust with its own replay cache (presentations are one-shot)."""
    from elicense.verify import Verifier

    v = world().verifier
    return Verifier(trust=v.trust, status=v.status, clock=lambda: NOW)


def _check_result(result: Any, genuine: Callable[[], bool]) -> None:
    from elicense.verify.result import Status, VerificationResult

    assert isinstance(result, VerificationResult), type(result)
    if result.status is Status.VALID:
        assert genuine(), "mutated input verified VALID"
    if result.status is not Status.VALID:
        assert result.reasons, "a non-VALID result must say why"


# -- EL1 / EP1 ----------------------------------------------------------------------------------


def _same_cose(data: bytes, prefix_unwrap: Callable[[bytes], bytes], originals: frozenset[bytes]) -> bool:
    try:
        return prefix_unwrap(data) in originals
    except ElicenseError:
        return False


def run_el1(data: bytes) -> None:
    from elicense.qr.payload import unwrap

    result = world().verifier.verify(data)  # never raises
    _check_result(result, lambda: _same_cose(data, unwrap, world().el1_cose))


def run_el1_cose(data: bytes) -> None:
    """Structure-aware: ``data`` is the COSE_Sign1 itself, wrapped as a QR payload."""
    from elicense.qr.payload import wrap

    result = world().verifier.verify(wrap(data))
    _check_result(result, lambda: data in world().el1_cose)


def _ep1_original() -> bytes:
    from elicense.present.presentation import unwrap

    return unwrap(world().ep1)


def run_ep1(data: bytes) -> None:
    from elicense.present.presentation import unwrap

    result = _fresh_verifier().verify(data)
    _check_result(result, lambda: _same_cose(data, unwrap, frozenset({_ep1_original()})))


def run_ep1_cose(data: bytes) -> None:
    from elicense.present.presentation import wrap

    result = _fresh_verifier().verify(wrap(data))
    _check_result(result, lambda: data == _ep1_original())


# -- building blocks ----------------------------------------------------------------------------

_PLAIN = (int, float, bytes, str, bool, type(None))


def _plain(value: Any, allowed_tags: frozenset[int]) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple):  # cbor2 returns tuples and frozendicts where keys must be hashable
        return all(_plain(v, allowed_tags) for v in value)
    if isinstance(value, dict | cbor2.frozendict):
        return all(_plain(k, allowed_tags) and _plain(v, allowed_tags) for k, v in value.items())
    if isinstance(value, cbor2.CBORTag):
        return value.tag in allowed_tags and _plain(value.value, allowed_tags)
    return False


def run_cbor(data: bytes) -> None:
    from elicense.qr import cbor

    with typed_errors_only():
        value = cbor.loads(data, allowed_tags=frozenset({18}))
        assert _plain(value, frozenset({18})), f"strict CBOR returned a non-plain value {type(value)}"


def run_base45(data: bytes) -> None:
    from elicense.qr.base45 import b45decode, b45encode

    text = data.decode("latin-1")
    with typed_errors_only():
        out = b45decode(text)
        assert b45encode(out) == text, "Base45 accepted a non-canonical text"


# -- trust lists --------------------------------------------------------------------------------


def _root() -> Any:
    return world().bundle_obj.current_root


def run_national_list(data: bytes) -> None:
    from elicense.trust.lists import read_national_list

    with typed_errors_only():
        nl, _ = read_national_list(data, roots=[_root()])
        original, _ = read_national_list(world().bundle_obj.national_xml, roots=[_root()])
        assert nl == original, "a mutated national list verified with different content"


def run_region_list(data: bytes) -> None:
    """The pointer pins the digest of ``data`` itself, so the XML signature check is what is tested."""
    from elicense.trust.lists import RegionPointer, digest, read_national_list, read_region_list

    b = world().bundle_obj
    nl, _ = read_national_list(b.national_xml, roots=[_root()])
    pointer = next(p for p in nl.pointers if p.region == "370000")
    with typed_errors_only():
        rl, _ = read_region_list(
            data, pointer=RegionPointer(pointer.region, pointer.location, digest(data), pointer.signer), roots=[_root()]
        )
        original, _ = read_region_list(b.region_xml["370000"], pointer=pointer, roots=[_root()])
        assert rl == original, "a mutated region list verified with different content"


def run_trust_list_xml(data: bytes) -> None:
    """The hardened parser, schema and element readers behind the signature, without the signature.

    A list whose signature is valid reaches exactly this path: a schema-valid document must
    read into a list or fail with a typed error.
    """
    from elicense.trust.lists import (
        NS,
        _parse,
        _schema_checked,
        national_list_from_element,
        region_list_from_element,
    )

    with typed_errors_only():
        tree = _parse(data)
        reader = {
            f"{{{NS}}}TrustList": region_list_from_element,
            f"{{{NS}}}ListOfLists": national_list_from_element,
        }.get(tree.tag)
        if reader is not None:
            reader(_schema_checked(tree))


# -- status lists -------------------------------------------------------------------------------


def run_status_list(data: bytes) -> None:
    from elicense.status.statuslist import parse_status_list
    from elicense.status.store import StatusStore

    with typed_errors_only():
        parse_status_list(data)
    w = world()
    store = StatusStore.build(w.verifier.trust, status_lists=[data])  # refusals land in .problems
    if store.lists:
        genuine = [parse_status_list(s).content for s in w.status_lists]
        assert all(sl in genuine for sl in store.lists.values()), "a mutated status list was accepted with new content"


def run_status_content(data: bytes) -> None:
    from elicense.status.statuslist import decode_content

    with typed_errors_only():
        sl = decode_content(data)
        for index in range(min(sl.size, 64)):
            sl.state(index)


# -- bundle -------------------------------------------------------------------------------------


def run_bundle(data: bytes) -> None:
    from elicense.trust.bundle import load_bundle

    with typed_errors_only():
        b = load_bundle(data, anchors=[_root()])
        g = world().bundle_obj
        assert (b.sequence, b.issued_at, b.national_xml, b.region_xml, b.extras, b.authorities) == (
            g.sequence,
            g.issued_at,
            g.national_xml,
            g.region_xml,
            g.extras,
            g.authorities,
        ), "a mutated bundle verified with different content"


def bundle_payload() -> bytes:
    from elicense.qr.cose import parse_sign1

    return parse_sign1(world().bundle).payload


def run_bundle_content(data: bytes) -> None:
    """Structure-aware: ``data`` is the bundle's CBOR content, signed by the genuine national operator."""
    from elicense.crypto.keys import key_id
    from elicense.qr.cose import sign1
    from elicense.trust.bundle import load_bundle

    signer = world().bundle_signer
    message = sign1(data, signer, key_id(signer.certificate))
    with typed_errors_only():
        b = load_bundle(message, anchors=[_root()])
        b.trust_store()


# -- JSON trust file and CRLs ------------------------------------------------------------------


def run_trust_file(data: bytes) -> None:
    from elicense.trust.file import parse_trust_file

    with typed_errors_only():
        parse_trust_file(data)


def run_crl(data: bytes) -> None:
    from elicense.status.crl import load_crl
    from elicense.status.store import StatusStore

    with typed_errors_only():
        load_crl(data)
    StatusStore.build(world().verifier.trust, crls=[data])  # refusals land in .problems, never raise


def _crls() -> tuple[bytes, ...]:
    status = json.loads(world().bundle_obj.extras["status"])
    return tuple(base64.b64decode(x) for x in status["crls"])


# -- GB/T 38540 seals ---------------------------------------------------------------------------

SES_DOC = b"EL2:fuzz-document\n"


@functools.cache
def ses_world() -> dict[str, Any] | None:
    """An SM2 seal world (None without the ``sm`` extra)."""
    try:
        from cryptography.x509.oid import ObjectIdentifier

        from elicense.crypto import sm2
        from elicense.seal import ses
    except ImportError:
        return None
    year = dt.timedelta(days=365)
    root_key, ca_key, signer_key, maker_key = (sm2.Sm2PrivateKey.generate() for _ in range(4))
    root = sm2.make_sm2_root(root_key, "测试根", not_before=NOW - 3 * year, not_after=NOW + 10 * year)
    ca = sm2.make_sm2_regional_ca(
        ca_key,
        "测试 CA",
        province="山东省",
        issuer_cert=root,
        issuer_key=root_key,
        not_before=NOW - 3 * year,
        not_after=NOW + 5 * year,
    )
    signer = sm2.make_sm2_end_entity(
        signer_key.public_key(),
        "济南市行政审批服务局",
        uscc=None,
        province="山东省",
        issuer_cert=ca,
        issuer_key=ca_key,
        not_before=NOW - year,
        not_after=NOW + year,
    )
    maker = sm2.make_sm2_end_entity(
        maker_key.public_key(),
        "印章制作系统",
        uscc=None,
        province="山东省",
        issuer_cert=ca,
        issuer_key=ca_key,
        not_before=NOW - 2 * year,
        not_after=NOW + 2 * year,
        eku=ObjectIdentifier(ses.OID_EKU_SEAL_MAKING),
    )
    signed_at = NOW - dt.timedelta(days=10)
    crls = (
        sm2.make_sm2_crl(
            ca, ca_key, this_update=signed_at - dt.timedelta(days=1), next_update=signed_at + dt.timedelta(days=7)
        ),
        sm2.make_sm2_crl(
            root, root_key, this_update=signed_at - dt.timedelta(days=1), next_update=signed_at + dt.timedelta(days=90)
        ),
    )
    seal = ses.make_seal(
        es_id="37010000123456",
        name="行政审批专用章",
        certificates=[signer],
        picture_png=b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
        width_mm=42,
        height_mm=42,
        valid_start=NOW - year,
        valid_end=NOW + year,
        maker_cert=maker,
        maker_key=maker_key,
        created=NOW - year,
    )
    signature = ses.sign_document(
        SES_DOC,
        seal=seal,
        signer_cert=signer,
        signer_key=signer_key,
        at=signed_at,
        property_info="licence.qr.txt",
        crls=crls,
    )
    return {"seal": seal, "signature": signature, "trust": ses.SesTrust(roots=(root,), intermediates=(ca,))}


def run_ses_seal(data: bytes) -> None:
    from elicense.seal import ses

    with typed_errors_only():
        ses.parse_seal(data)


def run_ses_signature(data: bytes) -> None:
    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.seal import ses
    from elicense.seal import verify as seal_verify

    sw = ses_world()
    assert sw is not None
    with typed_errors_only():
        ses.parse_signature(data)
    result = seal_verify.verify_signature(
        data, document=SES_DOC, trust=sw["trust"], at=NOW, algorithms=AlgorithmPolicy.of(["SM2"])
    )
    _check_result(result, lambda: data == sw["signature"])


# -- images and the kiosk/CLI input path ---------------------------------------------------------


@functools.cache
def qr_png() -> bytes:
    from elicense.qr.render import qr_png as render

    return render(world().el1["business-licence-jinan"], scale=2, border=2)


def run_image(data: bytes) -> None:
    from elicense.qr.decode import read_qr_texts

    with typed_errors_only():
        texts = read_qr_texts(data)
        assert isinstance(texts, list) and all(isinstance(t, str) for t in texts)


@functools.cache
def qr_pixels() -> tuple[int, int, bytes]:
    """The seed QR as raw 8-bit grey pixels (width, height, bytes)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(qr_png())).convert("L")
    return img.width, img.height, img.tobytes()


def run_image_pixels(data: bytes) -> None:
    """Structure-aware: ``data`` is the pixels of the QR image (PNG-encoded here, so mutations reach the
    QR decoder instead of dying in the PNG checksum); whatever it reads must verify honestly."""
    import io

    from PIL import Image

    from elicense.qr.decode import read_qr_texts
    from elicense.qr.payload import unwrap

    width, height, _ = qr_pixels()
    pixels = data[: width * height].ljust(width * height, b"\xff")
    buf = io.BytesIO()
    Image.frombytes("L", (width, height), pixels).save(buf, format="PNG")
    with typed_errors_only():
        for text in read_qr_texts(buf.getvalue()):
            assert isinstance(text, str)
            result = world().verifier.verify(text)
            _check_result(result, lambda t=text: _same_cose(t.encode(), unwrap, world().el1_cose))


def run_input(data: bytes) -> None:
    """``verify_bytes``: what the CLI and the kiosk endpoint run on whatever they are handed."""
    from elicense.present.presentation import unwrap as ep1_unwrap
    from elicense.qr.payload import unwrap
    from elicense.verify.inputs import sniff, verify_bytes

    def genuine() -> bool:
        return (
            sniff(data) != "text"
            or _same_cose(data, unwrap, world().el1_cose)
            or _same_cose(data, ep1_unwrap, frozenset({_ep1_original()}))
        )

    with typed_errors_only():
        results = verify_bytes(_fresh_verifier(), data, at=NOW)
        for result in results:
            # an image may still hold the genuine QR in its pixels; text must be the genuine payload
            _check_result(result, genuine)


@functools.cache
def pdf_seed() -> tuple[bytes, Any]:
    """The sealed, signed PDF of the Jinan business licence and its VALID result's licence claims."""
    from elicense.pdf.sign import seal_and_sign

    w = world()
    issued = w.demo.issued["business-licence-jinan"]
    pdf = seal_and_sign(issued, w.demo.home.signer(w.demo.home.authority(issued.licence.issuer.code)))
    result = _fresh_verifier().verify_pdf(pdf, at=NOW)
    assert result.valid, result.reasons
    return pdf, result.licence


def run_pdf(data: bytes) -> None:
    """``Verifier.verify_pdf``: a mutated PDF may stay VALID only as the genuine licence (its bytes
    outside the signed range, such as unused signature padding, can change); never as another one."""
    original = pdf_seed()[1]
    with typed_errors_only():
        result = _fresh_verifier().verify_pdf(data, at=NOW)
        _check_result(result, lambda: result.licence == original)


@functools.cache
def kiosk_app() -> Any:
    from elicense.kiosk.server import make_app

    return make_app(_fresh_verifier(), bundle_path=world().demo.trust_file)


def run_kiosk(data: bytes) -> None:
    """The kiosk endpoint: byte 0 picks upload (even) or a GET path (odd); never a 5xx, always JSON errors,
    an upload never VALID unless its text is the genuine payload, no file outside ``static/`` served."""
    from elicense.present.presentation import unwrap as ep1_unwrap
    from elicense.qr.payload import unwrap
    from elicense.verify.inputs import sniff

    app = kiosk_app()
    if not data or data[0] % 2 == 0:
        body = data[1:]
        r = app.handle("POST", "/api/verify" + ("?mode=camera" if data[:1] == b"\x02" else ""), body)
        assert r.status in (200, 400, 413, 422, 503), r.status
        doc = r.json()
        if r.status == 200:
            genuine = (
                sniff(body) != "text"
                or _same_cose(body, unwrap, world().el1_cose)
                or _same_cose(body, ep1_unwrap, frozenset({_ep1_original()}))
            )
            assert doc["status"] != "VALID" or genuine, "mutated upload verified VALID"
        else:
            assert doc["status"] == "ERROR" and doc["error"]["zh"] and doc["error"]["en"]
    else:
        path = data[1:].decode("latin-1")
        r = app.handle("GET", path)
        assert r.status in (200, 404, 405), r.status
        if r.status == 200 and path.partition("?")[0] not in ("/", "/index.html", "/api/status"):
            name = path.partition("?")[0].removeprefix("/static/")
            assert "/" not in name and "\\" not in name and not name.startswith("."), path


# -- registry -----------------------------------------------------------------------------------


def _targets() -> dict[str, Target]:
    w = world()
    el1 = tuple(p.encode("ascii") for p in w.el1.values())
    sw = ses_world()
    from elicense.present.presentation import unwrap as ep1_unwrap
    from elicense.status.statuslist import parse_status_list

    targets = [
        Target("el1", el1[:4], run_el1, text=True),
        Target("el1_cose", tuple(sorted(w.el1_cose))[:4], run_el1_cose),
        Target("ep1", (w.ep1.encode("ascii"),), run_ep1, text=True),
        Target("ep1_cose", (ep1_unwrap(w.ep1),), run_ep1_cose),
        Target("cbor", (*tuple(sorted(w.el1_cose))[:2], bundle_payload()[:4096], ep1_unwrap(w.ep1)), run_cbor),
        Target("base45", tuple(p[4:] for p in el1[:3]), run_base45, text=True),
        Target("national_list", (w.bundle_obj.national_xml,), run_national_list),
        Target("region_list", (w.bundle_obj.region_xml["370000"],), run_region_list),
        Target("trust_list_xml", (w.bundle_obj.national_xml, w.bundle_obj.region_xml["320000"]), run_trust_list_xml),
        Target("status_list", w.status_lists, run_status_list),
        Target(
            "status_content", tuple(parse_status_list(s).message.payload for s in w.status_lists), run_status_content
        ),
        Target("bundle", (w.bundle,), run_bundle),
        Target("trust_file", (w.demo.home.trust_file_bytes(now=NOW),), run_trust_file),
        Target("crl", _crls(), run_crl),
        Target("bundle_content", (bundle_payload(),), run_bundle_content),
        Target("image", (qr_png(),), run_image),
        Target("image_pixels", (qr_pixels()[2],), run_image_pixels),
        Target("input", (el1[0], qr_png(), w.ep1.encode("ascii")), run_input),
        Target(
            "kiosk",
            (b"\x00" + el1[0], b"\x02" + qr_png(), b"\x01/static/kiosk.js", b"\x01/api/status", b"\x01/index.html"),
            run_kiosk,
        ),
        Target("pdf", (pdf_seed()[0],), run_pdf),
    ]
    if sw is not None:
        targets += [
            Target("ses_seal", (sw["seal"],), run_ses_seal),
            Target("ses_signature", (sw["signature"],), run_ses_signature),
        ]
    return {t.name: t for t in targets}


@functools.cache
def targets() -> dict[str, Target]:
    """Every fuzz target by name."""
    return _targets()


NAMES = (
    "el1", "el1_cose", "ep1", "ep1_cose", "cbor", "base45", "national_list", "region_list", "trust_list_xml",
    "status_list", "status_content", "bundle", "bundle_content", "trust_file", "crl", "image", "image_pixels", "input", "kiosk", "pdf", "ses_seal", "ses_signature",
)  # fmt: skip
"""Target names, known without building the world (pytest parametrisation, ``--help``)."""
