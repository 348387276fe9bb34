"""Timestamps and revocation data for PAdES B-T / B-LT, without a network.

* :class:`LocalTSA` is an RFC 3161 time-stamping authority that runs in process
  (pyHanko's ``DummyTimeStamper``, which signs real ``TimeStampToken`` s), with a
  TSA certificate (critical ``timeStamping`` EKU) issued by a CA of the project's
  own PKI. Tests, demos and air-gapped issuers use it; production issuers point
  ``--tsa-url`` at their TSA (pyHanko ``HTTPTimeStamper``).
* :func:`options_for_home` turns a level (``B-B``/``B-T``/``B-LT``) into
  :class:`~elicense.pdf.sign.PdfSigningOptions` from an issuer home: the CRLs of
  the home's CAs (``elicense.status.service``) and its roots for B-LT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from elicense.errors import UsageError
from elicense.model import require_utc

if TYPE_CHECKING:
    from elicense.crypto.algorithms import PrivateKey
    from elicense.home import Home
    from elicense.pdf.sign import PdfSigningOptions

__all__ = ["PDF_LEVELS", "LocalTSA", "options_for_home"]

PDF_LEVELS = ("B-B", "B-T", "B-LT")
"""PAdES baseline levels offered (B-LTA is not: it needs an archive timestamp service)."""


@dataclass(frozen=True)
class LocalTSA:
    """An in-process RFC 3161 TSA certified by one of our CAs (tests, demos, offline issuers)."""

    certificate: x509.Certificate
    """The TSA certificate (RSA: pyHanko's in-process TSA signs with RSA PKCS#1 v1.5)."""
    key: rsa.RSAPrivateKey = field(repr=False)
    """The TSA key."""
    chain: tuple[x509.Certificate, ...] = ()
    """Certificates above the TSA certificate (embedded in each token)."""

    @classmethod
    def create(
        cls,
        issuer_cert: x509.Certificate,
        issuer_key: PrivateKey,
        *,
        not_before: dt.datetime,
        not_after: dt.datetime,
        name: str = "elicense 时间戳服务",
        chain: tuple[x509.Certificate, ...] = (),
    ) -> LocalTSA:
        """Issue a TSA certificate under ``issuer_cert`` for a fresh RSA-2048 key."""
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(require_utc(not_before, "not_before"))
            .not_valid_after(require_utc(not_after, "not_after"))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)  # RFC 3161
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), critical=False)
        )
        algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        cert = builder.sign(issuer_key, algorithm)
        return cls(cert, key, (issuer_cert, *chain))

    def timestamper(self, at: dt.datetime | None = None) -> Any:
        """A pyHanko ``TimeStamper`` whose tokens carry ``at`` (default: the wall clock)."""
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        def asn1(cert: x509.Certificate) -> Any:
            return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

        key = asn1_keys.PrivateKeyInfo.load(self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return DummyTimeStamper(
            tsa_cert=asn1(self.certificate),
            tsa_key=key,
            certs_to_embed=SimpleCertificateStore.from_certs([asn1(c) for c in self.chain]),  # type: ignore[no-untyped-call]
            fixed_dt=require_utc(at, "at") if at is not None else None,
        )


def _root_material(home: Home) -> tuple[x509.Certificate, PrivateKey]:
    """The home's first root and its key (demo homes keep it in ``keys/``)."""
    from elicense.crypto.keys import decrypt_private_key
    from elicense.status.service import _root_key

    rel = home.roots[0]
    cert = home.certificates(rel)[0]
    key_rel = _root_key(home, rel)
    if key_rel is None or not (home.path / key_rel).exists():
        raise UsageError("this home has no root key: give --tsa-url for B-T/B-LT",
                         message_zh="该目录没有根证书私钥，请用 --tsa-url 指定时间戳服务")
    key = decrypt_private_key((home.path / key_rel).read_bytes(), home.passphrase())
    return cert, key


def options_for_home(
    home: Home,
    level: str,
    *,
    at: dt.datetime,
    seal_name: str,
    tsa_url: str | None = None,
    tsa: LocalTSA | None = None,
) -> PdfSigningOptions:
    """Signing options for ``level`` from an issuer home (CRLs of its CAs for B-LT).

    Without ``tsa_url`` or ``tsa``, B-T/B-LT use a :class:`LocalTSA` certified by the
    home's root (needs the root key: demo and offline homes).
    """
    from elicense.pdf.sign import PdfSigningOptions

    if level not in PDF_LEVELS:
        raise UsageError(f"unknown PDF level {level!r} (known: {', '.join(PDF_LEVELS)})")
    if level == "B-B":
        if tsa_url:
            raise UsageError("--tsa-url needs --pdf-level B-T or B-LT")
        return PdfSigningOptions(seal_name=seal_name, level="B-B")
    at = require_utc(at, "at")
    timestamper: Any
    if tsa_url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        timestamper = HTTPTimeStamper(tsa_url, timeout=10)
    else:
        if tsa is None:
            cert, key = _root_material(home)
            tsa = LocalTSA.create(cert, key, not_before=at - dt.timedelta(days=1),
                                  not_after=at + dt.timedelta(days=3650))
        timestamper = tsa.timestamper(at)
    if level == "B-T":
        return PdfSigningOptions(seal_name=seal_name, level="B-T", timestamper=timestamper)
    from elicense.status.service import _crls

    try:
        crls = tuple(_crls(home, at, dt.timedelta(days=7), 1))
    except Exception as exc:
        raise UsageError(f"cannot build the CRLs for B-LT: {exc}") from exc
    if not crls:
        raise UsageError("B-LT needs the CRLs of the home's CAs, and this home holds no CA key",
                         message_zh="B-LT 需要本机构 CA 的证书吊销列表")
    roots = tuple(c for rel in home.roots for c in home.certificates(rel))
    return PdfSigningOptions(seal_name=seal_name, level="B-LT", timestamper=timestamper, crls=crls,
                             trust_roots=roots)
