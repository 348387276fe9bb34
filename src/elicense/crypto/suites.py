"""One door for both suites: keys, certificates and signers of an ECDSA/EdDSA/RSA *or* SM2 PKI.

Homes, the demo and trust-list publishing hold keys of either suite; the
``cryptography`` types cannot carry SM2 keys (see :mod:`elicense.crypto.sm2`), so the
places that create, store, load or wrap a key go through these functions, which pick
the suite from the key or the certificate (the SM2 backend, tongsuopy, loads only for SM2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from elicense.crypto.algorithms import Algorithm, PrivateKey
from elicense.crypto.keys import (
    Signer,
    Sm2Signer,
    SoftwareSigner,
    atomic_write,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
)
from elicense.crypto.pki import DEFAULT_PUBLICATION_BASE, LICENCE_SIGNER_EKUS, make_end_entity
from elicense.crypto.sm2 import Sm2PrivateKey, is_sm2_certificate, make_sm2_end_entity
from elicense.errors import CryptoError


def new_key(algorithm: Algorithm = Algorithm.ES256) -> PrivateKey | Sm2PrivateKey:
    """A fresh private key of ``algorithm`` (SM2 included)."""
    if algorithm is Algorithm.SM2:
        return Sm2PrivateKey.generate()
    return generate_private_key(algorithm)


def is_sm2_cert(certificate: x509.Certificate) -> bool:
    """Whether the certificate carries an SM2 key (curve ``1.2.156.10197.1.301``); no backend import."""
    return is_sm2_certificate(certificate)


def encrypt_key(key: PrivateKey | Sm2PrivateKey, passphrase: bytes) -> bytes:
    """Encrypted PKCS#8 PEM of either suite."""
    if isinstance(key, Sm2PrivateKey):
        return key.to_encrypted_pem(passphrase)
    return encrypt_private_key(key, passphrase)


def write_key(path: Path, key: PrivateKey | Sm2PrivateKey, passphrase: bytes) -> None:
    """Write an encrypted key of either suite atomically, mode 0600."""
    atomic_write(path, encrypt_key(key, passphrase), mode=0o600)


def load_key(pem: bytes, passphrase: bytes, certificate: x509.Certificate) -> PrivateKey | Sm2PrivateKey:
    """Decrypt the private key that belongs to ``certificate`` (its suite decides the loader)."""
    if is_sm2_cert(certificate):
        return Sm2PrivateKey.from_encrypted_pem(pem, passphrase)
    return decrypt_private_key(pem, passphrase)


def make_signer(
    key: PrivateKey | Sm2PrivateKey, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
) -> Signer:
    """A :class:`~elicense.crypto.keys.Signer` over an in-memory key of either suite."""
    if isinstance(key, Sm2PrivateKey):
        return Sm2Signer(key, certificate, tuple(chain))
    return SoftwareSigner(key, certificate, tuple(chain))


def make_end_entity_cert(
    key: PrivateKey | Sm2PrivateKey,
    common_name: str,
    *,
    uscc: str | None,
    province: str | None,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey | Sm2PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    eku: ObjectIdentifier | None = None,
    serial: int | None = None,
    publication_base: str | None = None,
) -> x509.Certificate:
    """An end-entity certificate for ``key`` issued by ``issuer_key``; both must be of the same suite.

    ``eku=None``: the licence-signing profile (``LICENCE_SIGNER_EKUS``); ``publication_base``: where
    the issuer publishes its certificate and CRL (default ``DEFAULT_PUBLICATION_BASE``).
    """
    base = publication_base or DEFAULT_PUBLICATION_BASE
    if isinstance(key, Sm2PrivateKey) and isinstance(issuer_key, Sm2PrivateKey):
        return make_sm2_end_entity(
            key.public_key(), common_name, uscc=uscc, province=province, issuer_cert=issuer_cert,
            issuer_key=issuer_key, not_before=not_before, not_after=not_after, eku=eku, serial=serial,
            publication_base=base,
        )  # fmt: skip
    if isinstance(key, Sm2PrivateKey) or isinstance(issuer_key, Sm2PrivateKey):
        raise CryptoError("an SM2 key can only be certified by an SM2 CA (and ECDSA by ECDSA)")
    return make_end_entity(
        key.public_key(), common_name, uscc=uscc, province=province, issuer_cert=issuer_cert,
        issuer_key=issuer_key, not_before=not_before, not_after=not_after,
        eku=eku or LICENCE_SIGNER_EKUS, serial=serial, publication_base=base,
    )  # fmt: skip
