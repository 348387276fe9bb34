"""One parser of the EL2 claims (#21): ``parse_claims_strict`` is the public reference; the fast reader is
private, reads the same tables, and a fault in it is an error — never hidden by a fallback to the strict parser."""

from __future__ import annotations

from typing import Any

import pytest

from elicense.errors import PayloadError
from elicense.qr import claims as claims_mod
from elicense.qr.cose import parse_sign1
from elicense.qr.payload import unwrap

NAME = "business-licence-jinan"


def _payload(world: Any) -> tuple[bytes, str]:
    issued = world.issued[NAME]
    return parse_sign1(unwrap(issued.qr_payload)).payload, issued.licence.id.issuer_code


def test_the_fast_reader_is_private() -> None:
    public = {n for n in dir(claims_mod) if n.startswith("parse_claims")}
    assert public == {"parse_claims", "parse_claims_strict"}
    assert not [n for n in dir(claims_mod) if "fast" in n and not n.startswith("_")]


def test_a_fault_in_the_fast_reader_is_not_swallowed(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the fast reader used to show only as a slowdown (every licence took the strict path)."""
    data, issuer = _payload(world)

    def broken(*args: object) -> None:
        raise TypeError("a fault in the fast reader")

    monkeypatch.setattr(claims_mod, "_read_claims_fast", broken)
    with pytest.raises(TypeError, match="fast reader"):
        claims_mod.parse_claims(data, issuer_code=issuer, area_code="370100")


def test_only_what_the_decoder_refuses_goes_to_the_strict_parser(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data, issuer = _payload(world)
    calls: list[bytes] = []
    strict = claims_mod.parse_claims_strict

    def counting(payload: bytes, **kw: Any) -> Any:
        calls.append(payload)
        return strict(payload, **kw)

    monkeypatch.setattr(claims_mod, "parse_claims_strict", counting)
    kw: dict[str, Any] = {"issuer_code": issuer, "area_code": "370100", "holder_types_of": lambda code: ("001",)}
    assert claims_mod.parse_claims(data, **kw) == strict(data, **kw)
    assert calls == []  # a conforming licence never reaches the strict parser
    with pytest.raises(PayloadError):
        claims_mod.parse_claims(data + b"\x00", **kw)  # trailing bytes: the decoder refuses, strict explains
    assert calls == [data + b"\x00"]
