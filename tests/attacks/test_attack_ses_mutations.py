"""Mutated real seals, seal signatures and SignedData: typed errors only, never a passing signature.

Seeds are real files (the corpus: v1, v4, v5, a tax bureau's, GB/T 35275) and elicense's own; the
mutations (bit flips, truncation, insertion, duplicated chunks, length-byte edits) run through every
reader: ``parse_*``, ``verify_*``, ``seal inspect``.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

pytest.importorskip("tongsuopy")

import contextlib

import ses_support as sx
from elicense.crypto import sm2
from elicense.errors import ElicenseError
from elicense.seal import api
from elicense.seal.inspect import inspect_bytes

AT = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
ROUNDS = 120


def _seeds() -> list[tuple[str, bytes, bytes]]:
    c = sx.corpus()
    out = [(p.name, p.read_bytes(), b"") for p in sorted((c / "seals").iterdir())]
    for name in ("sign__allprotected.ofd", "sign__v4signed.ofd", "made_with_tool/tool__jsz_v1.ofd",
                 "made_with_tool/tool__spjy_v5.ofd", "converter__testImageNotFound.ofd"):  # fmt: skip
        for entry, data, xml in sx.ofd_signatures(c / "ofd" / name):
            out.append((f"{name}:{entry}", data, xml))
    return out


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(5)
    i = rng.randrange(len(buf))
    if kind == 0:
        buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del buf[i:]
    elif kind == 2:
        buf[i:i] = rng.randbytes(rng.randrange(1, 8))
    elif kind == 3:
        j = rng.randrange(len(buf))
        buf[i:i] = buf[j : j + rng.randrange(1, 64)]
    else:  # aim at structure: the first bytes hold tags and lengths of the outer elements
        k = rng.randrange(min(24, len(buf)))
        buf[k] = rng.randrange(256)
    return bytes(buf)


def test_attack_ses_mutated_inputs_give_typed_errors_and_never_pass() -> None:
    """A mutation may only pass a signature check when the bytes that signature covers are unchanged
    (e.g. a flipped bit in an unsigned certificate field — whose chain check then fails)."""
    rng = random.Random(1738)
    trust = api.SesTrust(roots=())
    for name, seed, xml in _seeds():
        digest = sm2.sm3(xml)
        kind = api.detect(seed)
        original = _covered(kind, seed)
        for _ in range(ROUNDS):
            data = _mutate(rng, seed)
            if data == seed:
                continue
            with contextlib.suppress(ElicenseError):
                inspect_bytes(data)
            if kind == "seal":
                res = api.verify_seal(data, trust=trust, at=AT)
                signed: tuple[str, ...] = ("seal_signature",)
            elif kind == "signed_data":
                res = api.verify_signed_data(data, content=xml, trust=trust, at=AT)  # type: ignore[assignment]
                signed = ("signature", "document_digest")
            else:
                res = api.verify_ses(data, data_hash=digest, trust=trust, at=AT)
                signed = ("signature", "seal_signature", "document_digest")
            assert not res.valid, name
            checks = {c.name: str(c.outcome) for c in res.checks}
            if all(checks.get(n) == "PASSED" for n in signed):
                assert _covered(kind, data) == original, name


def _covered(kind: str, data: bytes) -> tuple[bytes, ...]:
    if kind == "seal":
        return (api.parse_seal(data).covers.data,)
    if kind == "signed_data":
        return (api.parse_signed_data(data).covers.data,)
    sig = api.parse_signature(data)
    return sig.covers.data, sig.seal.covers.data


def test_attack_ses_element_bombs_and_deep_nesting_are_refused_quickly() -> None:
    """A 2 MB input of a million empty elements, deep nesting, indefinite lengths: typed errors, fast."""
    import time

    from elicense.seal import der as d

    million = d.sequence(b"".join(d.sequence(b"\x30\x00" * 4000) for _ in range(250)))
    deep = b"".join(d.header(0x30, 2 * (40 - i)) for i in range(40))[:2] + b"\x30\x00"
    nested = b"\x30\x00"
    for _ in range(40):
        nested = d.sequence(nested)
    indefinite = b"\x30\x80" + b"\x30\x00" + b"\x00\x00"
    for blob in (million, nested, indefinite, deep, b"\x30\x84\xff\xff\xff\xff", b"\x3f\x81\x01\x00"):
        start = time.perf_counter()
        for call in (api.parse_signature, api.parse_seal, api.parse_signed_data, inspect_bytes):
            with pytest.raises(ElicenseError):
                call(blob)
        res = api.verify_ses(blob, data_hash=None, trust=api.SesTrust(roots=()), at=AT)
        assert res.has_reason("ses_malformed")
        assert time.perf_counter() - start < 2.0
