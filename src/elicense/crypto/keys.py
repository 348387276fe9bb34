"""Key generation, encrypted-at-rest storage, key ids and the ``Signer`` protocol.

Private keys never sit in plaintext on disk: they are PKCS#8, encrypted with a
passphrase (``BestAvailableEncryption``). An HSM plugs in by implementing
:class:`Signer`; nothing else in the library touches private keys.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from elicense import _crashpoint
from elicense.crypto.algorithms import Algorithm, PrivateKey, raw_signer, sign_raw
from elicense.errors import CryptoError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PrivateKey

KID_LENGTH = 8
"""Bytes of SHA-256(certificate DER) used as key id. Ids may collide: verifiers try all."""


def key_id(certificate: x509.Certificate) -> bytes:
    """First 8 bytes of SHA-256 over the certificate's DER encoding."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()[:KID_LENGTH]


def generate_private_key(algorithm: Algorithm = Algorithm.ES256) -> PrivateKey:
    """A fresh private key for ``algorithm``."""
    if algorithm is Algorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is Algorithm.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def encrypt_private_key(key: PrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM, encrypted with ``passphrase`` (which must not be empty)."""
    if not passphrase:
        raise CryptoError(
            "refusing to store a private key without a passphrase",
            message_zh="私钥必须加密保存，口令不能为空",
        )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def decrypt_private_key(pem: bytes, passphrase: bytes) -> PrivateKey:
    """Load an encrypted PKCS#8 PEM key; unencrypted keys are refused."""
    if b"ENCRYPTED" not in pem[:64]:
        raise CryptoError("private key is not encrypted at rest", message_zh="私钥未加密保存")
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise CryptoError(
            "cannot decrypt private key (wrong passphrase or corrupt file)",
            message_zh="无法解密私钥（口令错误或文件损坏）",
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise CryptoError(f"unsupported private key type {type(key).__name__}")
    return key


def write_private_key(path: Path, key: PrivateKey, passphrase: bytes) -> None:
    """Write an encrypted key atomically with mode 0600."""
    atomic_write(path, encrypt_private_key(key, passphrase), mode=0o600)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    import tempfile  # not at module level: tempfile imports shutil, bz2 and lzma (cold start of verify, #8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        _crashpoint("atomic_write.before_replace")
        os.replace(tmp, path)
        _crashpoint("atomic_write.after_replace")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign for an issuing authority (software key, HSM, ...)."""

    @property
    def algorithm(self) -> Algorithm:
        """The signature algorithm of the key."""

    @property
    def certificate(self) -> x509.Certificate:
        """The signer's certificate."""

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Intermediate certificates up to (not including) the trust anchor."""

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; ECDSA returns DER (as CMS expects)."""


@dataclass(frozen=True)
class SoftwareSigner:
    """A :class:`Signer` over an in-memory private key."""

    private_key: PrivateKey = field(repr=False)
    """The private key; kept out of ``repr``."""
    certificate: x509.Certificate
    """The signer's certificate; its public key must match ``private_key``."""
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates up to the trust anchor."""
    _algorithm: Algorithm | None = field(default=None, init=False, repr=False, compare=False)
    _sign: Callable[[bytes], bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        algorithm = Algorithm.for_key(self.private_key)  # once, not per signature
        object.__setattr__(self, "_algorithm", algorithm)
        object.__setattr__(self, "_sign", raw_signer(self.private_key, algorithm))
        pub = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cert_pub = self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if pub != cert_pub:
            raise CryptoError("private key does not match the certificate")

    @property
    def algorithm(self) -> Algorithm:
        """Derived from the key type."""
        return self._algorithm or Algorithm.for_key(self.private_key)

    @property
    def kid(self) -> bytes:
        """Key id of the certificate."""
        return key_id(self.certificate)

    def sign(self, data: bytes) -> bytes:
        """Sign with the in-memory key."""
        if self._sign is None:
            return sign_raw(self.private_key, self.algorithm, data)
        return self._sign(data)


@dataclass(frozen=True)
class Sm2Signer:
    """A :class:`~elicense.crypto.keys.Signer` over an in-memory SM2 key."""

    private_key: Sm2PrivateKey = field(repr=False)
    """The private key; kept out of ``repr``."""
    certificate: x509.Certificate
    """The signer's SM2 certificate; its key must match ``private_key``."""
    chain: tuple[x509.Certificate, ...] = ()
    """Intermediates up to the trust anchor."""

    def __post_init__(self) -> None:
        from elicense.crypto.sm2 import Sm2PublicKey  # tongsuopy loads only for SM2

        if Sm2PublicKey.from_certificate(self.certificate) != self.private_key.public_key():
            raise CryptoError("private key does not match the certificate")

    @property
    def algorithm(self) -> Algorithm:
        """Always SM2."""
        return Algorithm.SM2

    @property
    def kid(self) -> bytes:
        """Key id of the certificate."""
        return key_id(self.certificate)

    def sign(self, data: bytes) -> bytes:
        """DER SM2 signature over ``data``."""
        return self.private_key.sign(data)
