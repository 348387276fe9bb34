"""The EL1 codec against independent implementations (base45 package, pycose) and its bounds."""

from __future__ import annotations

import hashlib
import zlib

import base45 as base45_pkg
import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from elicense.errors import PayloadError, PayloadTooLarge
from elicense.qr import cbor
from elicense.qr.base45 import b45decode, b45encode
from elicense.qr.cose import parse_sign1
from elicense.qr.payload import PREFIX, unwrap
from elicense.qr.render import qr_png, qr_version


@given(st.binary(max_size=600))
def test_base45_matches_reference_package(data: bytes) -> None:
    text = b45encode(data)
    assert text == base45_pkg.b45encode(data).decode()
    assert b45decode(text) == data == base45_pkg.b45decode(text)


def test_base45_lane_encoder_at_word_extremes_and_qr_sizes() -> None:
    """The encoder divides every 16-bit word by 45 at once in 32-bit lanes: the largest words, every
    word value, and payloads as long as a QR holds must give the reference package's text."""
    every_word = b"".join(w.to_bytes(2, "big") for w in range(65536))
    for data in (b"\xff" * 2999, b"\x00\x01" * 1500, every_word, every_word[::-1] + b"\xfe"):
        assert b45encode(data) == base45_pkg.b45encode(data).decode()


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=60))
def test_base45_decoder_agrees_on_arbitrary_text(text: str) -> None:
    try:
        expected: bytes | None = base45_pkg.b45decode(text)
    except ValueError:
        expected = None
    try:
        got: bytes | None = b45decode(text)
    except PayloadError:
        got = None
    assert got == expected


def test_pycose_verifies_our_cose_sign1(world) -> None:  # type: ignore[no-untyped-def]
    """An independent COSE implementation accepts our messages (interoperability)."""
    from cose.keys import EC2Key
    from cose.keys.curves import P256
    from cose.messages import Sign1Message

    issued = world.issued["business-licence-jinan"]
    signer = world.home.signer(world.home.authorities[0])
    numbers = signer.certificate.public_key().public_numbers()
    tagged = cbor2.loads(unwrap(issued.qr_payload))
    assert tagged.tag == 18
    # pycose's own decode() predates cbor2 6 (tuples inside tags); hand it the array.
    msg = Sign1Message.from_cose_obj(list(tagged.value), True)
    msg.key = EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
    assert msg.verify_signature()
    ours = parse_sign1(unwrap(issued.qr_payload))
    assert msg.payload == ours.payload


def test_claims_are_deterministic_cbor(world) -> None:  # type: ignore[no-untyped-def]
    raw = parse_sign1(unwrap(world.issued["resident-id-card-nanjing"].qr_payload)).payload
    assert cbor.dumps(cbor2.loads(raw)) == raw


def test_qr_fits_small_versions_and_decodes_from_pixels(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr.decode import read_payloads

    versions = {name: qr_version(i.qr_payload) for name, i in world.issued.items()}
    assert versions["resident-id-card-nanjing"] <= 10
    assert versions["driving-licence-nanjing"] <= 10
    # organisation licences too, thanks to the compact forms (specs/qr-payload.md §3.1)
    for name in (
        "business-licence-jinan",
        "business-licence-nanjing",
        "food-business-licence-jinan",
        "construction-safety-licence-shandong",
        "driving-licence-renewed",
    ):
        assert versions[name] <= 10, (name, versions[name])
    assert max(versions.values()) <= 11, versions
    text = world.issued["driving-licence-nanjing"].qr_payload
    assert read_payloads(qr_png(text, scale=3)) == [text]


def test_holder_id_number_is_masked_in_qr(world) -> None:  # type: ignore[no-untyped-def]
    raw = parse_sign1(unwrap(world.issued["resident-id-card-nanjing"].qr_payload)).payload
    claims = cbor2.loads(raw)
    holder = world.issued["resident-id-card-nanjing"].licence.holder
    assert holder.code not in repr(claims) and holder.name not in repr(claims)
    assert claims[-65537][5] == holder.code[0] + "*" * 16 + holder.code[-1]


def test_unwrap_bounds() -> None:
    with pytest.raises(PayloadTooLarge):
        unwrap(PREFIX + "0" * 5000)
    with pytest.raises(PayloadError):
        unwrap("HC1:6BFOXN")
    with pytest.raises(PayloadError):
        unwrap(b"EL2:\xff\xfe")


@pytest.mark.parametrize("size", [200, 1000, 2800, 9000])
def test_compressed_payload_is_a_standard_zlib_stream(size: int) -> None:
    """``wrap`` deflates with a small window inside the standard zlib frame: CPython's zlib (another
    implementation's framing and checksum check) inflates it, and the header is the one readers look for."""
    from elicense.qr.payload import ZLIB_FIRST_BYTE, wrap

    text = "山东省济南市历下区经十路 0 号；软件开发、信息技术咨询服务。"
    message = b"\xd2" + (text * (size // len(text.encode()) + 1)).encode()[:size]
    body = b45decode(wrap(message)[len(PREFIX) :])
    assert body[0] == ZLIB_FIRST_BYTE and len(body) < len(message)
    assert zlib.decompress(body) == message
    assert zlib.decompressobj(wbits=15).decompress(body) == message
    if size * 2 < 64 * len(body) and size <= 4096:
        assert unwrap(wrap(message)) == message


def test_incompressible_payload_stays_plain() -> None:
    from elicense.qr.payload import wrap

    message = b"\xd2" + hashlib.sha512(b"not compressible").digest() * 1 + hashlib.sha512(b"x").digest()
    assert b45decode(wrap(message)[len(PREFIX) :]) == message
