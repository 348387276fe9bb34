"""SM2 certificates as real seal systems issue them, and their chains.

``cryptography`` refuses some certificates that circulate in real seals (BasicConstraints
encoded with its DEFAULT value, a non-IA5 character in an IA5String). Such a certificate is
read with asn1crypto instead — and is still **fully** validated: issuer name, SM2 signature
on every link, CA constraints, validity. The refusal is reported as a deviation, never hidden.
Anchors are not constraint-checked (RFC 5280 §6.1: a trust anchor is an input, not a link);
real anchors (ofdrw's test root, some provincial roots) lack keyCertSign.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from elicense.crypto.sm2 import Sm2PublicKey, raw_to_der
from elicense.errors import CryptoError, TrustError

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PublicKey

MAX_CERT_BYTES = 64 * 1024
MAX_DEPTH = 5

OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
_KNOWN_EXTENSIONS = frozenset(
    {
        "2.5.29.15",  # keyUsage
        "2.5.29.19",  # basicConstraints
        "2.5.29.37",  # extKeyUsage
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.32",  # certificatePolicies
        "2.5.29.17",  # subjectAltName
        "2.5.29.31",  # cRLDistributionPoints
    }
)


@dataclass(frozen=True)
class CertView:
    """What seal verification needs from one certificate, read with asn1crypto."""

    der: bytes = field(repr=False)
    """The DER bytes as carried."""
    subject: str
    """Subject, human-readable (RFC 4514-ish, for reports)."""
    issuer: str
    """Issuer, human-readable."""
    serial: int
    """Serial number."""
    not_before: dt.datetime
    """Start of validity (UTC)."""
    not_after: dt.datetime
    """End of validity (UTC)."""
    signature_alg: str
    """Dotted OID of the outer signature algorithm."""
    ca: bool
    """BasicConstraints cA (False when absent)."""
    path_length: int | None
    """BasicConstraints pathLenConstraint."""
    key_usage: frozenset[str] | None
    """Key usage bit names (asn1crypto's), or None when absent."""
    ext_key_usage: frozenset[str] | None
    """Dotted EKU OIDs, or None when absent."""
    unknown_critical: tuple[str, ...]
    """Critical extensions this profile does not know (vendor extensions)."""
    strict_error: str | None
    """Why ``cryptography`` refused the certificate (None when it loads it)."""
    subject_der: bytes = field(repr=False)
    """DER of the subject Name (byte-exact, for chaining and CRL matching)."""
    issuer_der: bytes = field(repr=False)
    """DER of the issuer Name."""
    _tbs: bytes = field(repr=False)
    _signature: bytes = field(repr=False)
    _inner_alg: str = field(repr=False)
    _spki: bytes = field(repr=False)

    def same_subject_as_issuer_of(self, child: CertView) -> bool:
        """Name chaining (normalised comparison, RFC 5280 §7.1)."""
        if self.subject_der == child.issuer_der:
            return True

        try:
            return bool(a509.Name.load(self.subject_der) == a509.Name.load(child.issuer_der))
        except (ValueError, TypeError):
            return False

    def public_key(self) -> Sm2PublicKey:
        """The SM2 public key (:class:`~elicense.crypto.sm2.Sm2PublicKey`); CryptoError otherwise."""
        return _sm2_key(self._spki)

    def signed_by(self, issuer: CertView) -> bool:
        """Whether ``issuer``'s SM2 key made this certificate's signature."""

        if self.signature_alg != OID_SM2_WITH_SM3 or self._inner_alg != OID_SM2_WITH_SM3:
            return False
        try:
            key = _sm2_key(issuer._spki)
        except CryptoError:
            return False
        sig = self._signature
        if len(sig) == 64:
            try:
                sig = raw_to_der(sig)
            except CryptoError:
                return False
        return key.verify(sig, self._tbs)

    def valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies in the validity period."""
        return self.not_before <= when <= self.not_after


@functools.lru_cache(maxsize=256)
def _sm2_key(spki: bytes) -> Sm2PublicKey:
    """SM2 keys by SubjectPublicKeyInfo: the same few anchors and CAs verify every seal."""

    return Sm2PublicKey.from_spki(spki)


def load_cert(der: bytes) -> CertView:
    """Read a DER certificate (bounded); :class:`CryptoError` if even asn1crypto cannot.

    Views are immutable, so they are cached by their bytes (anchors and CAs recur on every seal).
    """
    if not isinstance(der, bytes) or not der or len(der) > MAX_CERT_BYTES:
        raise CryptoError("certificate missing, too large or not bytes")
    return _load(der)


@functools.lru_cache(maxsize=512)
def _load(der: bytes) -> CertView:
    strict_error: str | None = None
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.extensions)
    except Exception as exc:  # cryptography raises ValueError and a few others on odd encodings
        strict_error = str(exc)[:200] or type(exc).__name__
    try:
        parsed = a509.Certificate.load(der)
        tbs = parsed["tbs_certificate"]
        validity = tbs["validity"]
        not_before = validity["not_before"].native
        not_after = validity["not_after"].native
        ca, path_len = False, None
        key_usage: frozenset[str] | None = None
        eku: frozenset[str] | None = None
        unknown: list[str] = []
        for ext in tbs["extensions"]:
            name = ext["extn_id"].dotted
            if name == "2.5.29.19":
                bc = ext["extn_value"].parsed
                ca = bool(bc["ca"].native)
                path_len = bc["path_len_constraint"].native
            elif name == "2.5.29.15":
                key_usage = frozenset(ext["extn_value"].parsed.native)
            elif name == "2.5.29.37":
                eku = frozenset(o.dotted for o in ext["extn_value"].parsed)
            elif ext["critical"].native and name not in _KNOWN_EXTENSIONS:
                unknown.append(name)
        view = CertView(
            der=der,
            subject=_name_text(tbs["subject"]),
            issuer=_name_text(tbs["issuer"]),
            serial=int(tbs["serial_number"].native),
            not_before=not_before.astimezone(dt.UTC),
            not_after=not_after.astimezone(dt.UTC),
            signature_alg=parsed["signature_algorithm"]["algorithm"].dotted,
            ca=ca,
            path_length=path_len,
            key_usage=key_usage,
            ext_key_usage=eku,
            unknown_critical=tuple(unknown),
            strict_error=strict_error,
            subject_der=tbs["subject"].dump(),
            issuer_der=tbs["issuer"].dump(),
            _tbs=tbs.dump(),
            _signature=bytes(parsed["signature_value"].native),
            _inner_alg=tbs["signature"]["algorithm"].dotted,
            _spki=tbs["subject_public_key_info"].dump(),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CryptoError(f"unreadable certificate: {exc}"[:240]) from exc
    return view


def _name_text(name: object) -> str:
    try:
        text: str = name.human_friendly  # type: ignore[attr-defined]
    except (ValueError, TypeError, AttributeError):
        return "?"
    return text[:300]


def cert_of(value: object) -> CertView:
    """A :class:`CertView` from DER bytes or an ``x509.Certificate``."""
    if isinstance(value, CertView):
        return value
    if isinstance(value, bytes):
        return load_cert(value)

    public_bytes = getattr(value, "public_bytes", None)
    if public_bytes is None:
        raise CryptoError("not a certificate")
    return load_cert(public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Chain:
    """A validated path, leaf first, anchor last."""

    certs: tuple[CertView, ...]
    """Leaf … anchor."""

    @property
    def anchor(self) -> CertView:
        """The trust anchor that ended the path."""
        return self.certs[-1]

    @property
    def not_before(self) -> dt.datetime:
        """Start of the common validity window."""
        return max(c.not_before for c in self.certs)

    @property
    def not_after(self) -> dt.datetime:
        """End of the common validity window."""
        return min(c.not_after for c in self.certs)


def build_chain(
    leaf: CertView,
    *,
    anchors: Sequence[CertView],
    intermediates: Sequence[CertView] = (),
    leaf_eku: str | None = None,
) -> Chain:
    """A path from ``leaf`` to one of ``anchors`` with SM2 signatures on every link.

    Rules: issuer name and SM2 signature per link; each non-anchor issuer is a CA
    (basicConstraints cA, path length, keyCertSign when keyUsage is present); the leaf has
    digitalSignature or nonRepudiation when keyUsage is present, and ``leaf_eku`` when given;
    depth ≤ 5. A leaf that *is* an anchor is a path of one (a pinned certificate).
    Unknown critical extensions are the caller's to report. Raises :class:`TrustError`.
    """
    if leaf.key_usage is not None and not leaf.key_usage & {"digital_signature", "non_repudiation"}:
        raise TrustError(f"certificate {leaf.subject!r} lacks digitalSignature/nonRepudiation")
    if leaf_eku is not None and (leaf.ext_key_usage is None or leaf_eku not in leaf.ext_key_usage):
        raise TrustError(f"certificate {leaf.subject!r} lacks extended key usage {leaf_eku}")
    anchor_ders = {a.der for a in anchors}
    if leaf.der in anchor_ders:
        return Chain((leaf,))

    def build(path: list[CertView]) -> list[CertView] | None:
        current = path[-1]
        if len(path) > MAX_DEPTH:
            return None
        for cand in anchors:
            if cand.same_subject_as_issuer_of(current) and current.signed_by(cand):
                return [*path, cand]
        for cand in intermediates:
            if cand.der in {p.der for p in path} or not cand.same_subject_as_issuer_of(current):
                continue
            if not cand.ca or (cand.path_length is not None and len(path) - 1 > cand.path_length):
                continue
            if cand.key_usage is not None and "key_cert_sign" not in cand.key_usage:
                continue
            if current.signed_by(cand):
                found = build([*path, cand])
                if found is not None:
                    return found
        return None

    path = build([leaf])
    if path is None:
        raise TrustError(f"certificate {leaf.subject!r} does not chain to a trusted SM2 anchor")
    return Chain(tuple(path))


__all__ = ["CertView", "Chain", "build_chain", "cert_of", "load_cert"]
