"""Straightforward reference forms of optimised library code (not shipped: only tests and benchmarks use them).

Tests hold each fast form equal to its reference; benchmarks measure the fast form against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from elicense.crypto.algorithms import PrivateKey
from elicense.identifiers import USCC_ALPHABET, org_check_char, uscc_check_char
from elicense.status.crl import RevokedCert, _entry

_PAIRS = tuple(a + b for a in USCC_ALPHABET for b in USCC_ALPHABET)


def uscc_from_value_reference(n: int) -> str:
    """The straightforward form of ``elicense.qr.claims._uscc_from_value``: ``n`` in base 31, check characters computed."""
    pairs = []
    for _ in range(8):
        n, pair = divmod(n, 961)
        pairs.append(_PAIRS[pair])
    body = "".join(reversed(pairs))
    first17 = body + org_check_char(body[8:])
    return first17 + uscc_check_char(first17)


def build_crl_quadratic(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[RevokedCert],
    *,
    last_update: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """The naive ``add_revoked_certificate`` loop that ``elicense.status.crl.build_crl`` replaces (quadratic)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(last_update)
        .next_update(next_update)
    )
    for r in revoked:
        builder = builder.add_revoked_certificate(_entry(r))
    return builder.sign(ca_key, hashes.SHA256())
