"""The EL2 claims set is a CWT (RFC 8392): registered claims under their keys, one encoding per licence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import cbor2
import pytest

from elicense.catalog import Catalog
from elicense.errors import PayloadError
from elicense.qr import cbor
from elicense.qr import claims as claims_mod
from elicense.qr.cose import parse_sign1
from elicense.qr.payload import PREFIX, unwrap

NAME = "construction-safety-licence-shandong"  # has exp and a field


def _top(world: Any) -> dict[Any, Any]:
    return dict(cbor2.loads(parse_sign1(unwrap(world.issued[NAME].qr_payload)).payload))


def _parse(world: Any, top: dict[Any, Any]) -> Any:
    lic = world.issued[NAME].licence
    data = cbor.dumps(top)
    kw = {
        "issuer_code": lic.id.issuer_code,
        "area_code": lic.issuer.area_code,
        "holder_types_of": lambda code: Catalog.default().get(code).holder_types,
    }
    fast = claims_mod.parse_claims(data, **kw)
    assert fast == claims_mod.parse_claims_strict(data, **kw)
    return fast


def test_registered_claims_carry_their_registered_meanings(world: Any) -> None:
    issued = world.issued[NAME]
    top = _top(world)
    assert set(top) == {claims_mod.CWT_EXP, claims_mod.CWT_IAT, claims_mod.CWT_CTI, claims_mod.K_LICENCE}
    assert top[6] == int(issued.signed_at.timestamp())
    assert top[7] == claims_mod.licence_digest(issued.licence)
    cst = dt.timezone(dt.timedelta(hours=8))
    end = issued.licence.validity.end
    assert end is not None
    assert top[4] == int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), cst).timestamp())
    assert all(k < 0 for k in top[claims_mod.K_LICENCE] if k not in (2, 3, 4, 5, 6, 9, 14, 15))
    assert issued.qr_payload.startswith(PREFIX) and PREFIX == "EL2:"


def test_nbf_is_written_only_when_validity_starts_on_another_day(world: Any) -> None:
    top = _top(world)
    parsed = _parse(world, top)
    later = parsed.valid_from + dt.timedelta(days=3)
    cst_midnight = int(dt.datetime.combine(later, dt.time(), dt.timezone(dt.timedelta(hours=8))).timestamp())
    shifted = _parse(world, {**top, claims_mod.CWT_NBF: cst_midnight})
    assert shifted.valid_from == later
    same_day = cst_midnight - 3 * 86400
    with pytest.raises(PayloadError):
        _parse(world, {**top, claims_mod.CWT_NBF: same_day})  # a second encoding of the same licence


@pytest.mark.parametrize(("key", "delta"), [(4, 1), (4, 3600), (5, 60)])
def test_exp_and_nbf_must_be_cst_midnights(world: Any, key: int, delta: int) -> None:
    top = _top(world)
    base = top.get(key, top[claims_mod.CWT_EXP] - 86400 * 400)
    with pytest.raises(PayloadError):
        _parse(world, {**top, key: base + delta})


def test_long_term_licence_has_no_exp(world: Any) -> None:
    issued = world.issued["business-licence-jinan"]
    top = cbor2.loads(parse_sign1(unwrap(issued.qr_payload)).payload)
    assert issued.licence.validity.end is None and claims_mod.CWT_EXP not in top


def test_unknown_top_level_claims_are_refused(world: Any) -> None:
    top = _top(world)
    for key in (1, 2, 8, -65536, -65538):
        with pytest.raises(PayloadError):
            _parse(world, {**top, key: 1})
