"""Fixtures for the attack corpus: a signed licence PDF of the session's demo world."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def signed_pdf(world) -> bytes:  # type: ignore[no-untyped-def]
    """The sealed, signed PDF of the Jinan business licence (VALID under ``verifier``)."""
    from elicense.pdf.sign import seal_and_sign

    issued = world.issued["business-licence-jinan"]
    return seal_and_sign(issued, world.home.signer(world.home.authority(issued.licence.issuer.code)))
