"""Attacks by a rogue (but trusted) authority or region: the issuer and region of a licence come from the
signer's trust-list entry, never from the payload, and stale or absent authorisation is never VALID."""

from __future__ import annotations

import pytest

from elicense.crypto.keys import key_id
from elicense.qr.cose import parse_sign1, sign1
from elicense.qr.payload import unwrap, wrap
from elicense.verify import Status, Verifier

SAMPLE = "business-licence-jinan"


def _resigned_by(world, slug_code: str) -> str:  # type: ignore[no-untyped-def]
    """The claims of the Jinan licence, signed by another authority of the world."""
    claims = parse_sign1(unwrap(world.issued[SAMPLE].qr_payload)).payload
    signer = world.home.signer(world.home.authority(slug_code))
    return wrap(sign1(claims, signer, key_id(signer.certificate)))


@pytest.mark.parametrize("other", ["nanjing-market", "nanjing-police", "shandong-housing"])
def test_attack_claims_resigned_by_another_authority_are_not_attributed_to_the_original_issuer(
    world,
    verifier,
    other: str,  # type: ignore[no-untyped-def]
) -> None:
    """A rogue authority (another region's, or the same region's for another sector) signs the claims of a
    Jinan licence: never VALID as a Jinan licence; VALID only as the signer's own, if it may issue the type."""
    jinan = world.home.authority("济南市行政审批服务局")
    entry = next(a for a in world.home.authorities if other in a.cert)
    result = verifier.verify(_resigned_by(world, entry.code))
    if result.status is Status.VALID:
        assert result.issuer is not None and result.issuer.code == entry.code != jinan.code
        assert result.licence is not None and result.licence.id.issuer_code == entry.code
        assert result.licence_type is not None and result.licence_type.code in entry.licence_types
    else:
        assert result.status is Status.INVALID
        assert result.has_reason("type_not_authorised") or result.has_reason("signature_invalid")


def test_attack_other_region_licence_refused_by_accept_region(world) -> None:  # type: ignore[no-untyped-def]
    """A relying party that accepts only Jiangsu licences refuses a genuine Shandong one."""
    from conftest import NOW
    from elicense.verify.verifier import AcceptRegions

    base = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
    strict = Verifier(
        trust=base.trust, status=base.status, clock=lambda: NOW, policies=[AcceptRegions(frozenset({"320000"}))]
    )
    assert base.verify(world.issued[SAMPLE].qr_payload).status is Status.VALID
    result = strict.verify(world.issued[SAMPLE].qr_payload)
    assert result.status is Status.INVALID and result.has_reason("region_not_accepted")
