"""SM2 signatures with SM3 (GB/T 32918, GB/T 32905) and X.509 certificates with SM2 keys.

Why this module exists: ``cryptography`` has SM3 but no SM2, and its X.509
verifier cannot check SM2-with-SM3 signatures. It *can* load such
certificates (their public key stays opaque), so SM2 certificates travel
through the rest of the library as ordinary ``x509.Certificate`` objects;
everything that needs the SM2 key (signatures, chain checks) comes here.

Backend: ``tongsuopy`` (Python binding of Tongsuo, the OpenSSL fork of the
Chinese OpenAtom foundation): strict DER signatures, range checks on
``r``/``s``, off-curve points rejected, encrypted PKCS#8 for SM2 keys, and
it is the fastest verifier we measured (``specs/sm2.md``). It is imported
lazily: ``elicense verify X.qr.txt`` for an ES256 licence never loads it.

Profile (normative in ``specs/sm2.md``):

* the user id is always the GB/T 35276 default ``1234567812345678``
  (Z value per GB/T 32918.2 §5.5); Tongsuo offers no other id, and the seal
  and certificate standards (GM/T 0015, GB/T 38540) use the default;
* signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }``, canonical,
  ``1 <= r, s < n`` — anything else is refused, never re-parsed;
* certificates carry ``id-ecPublicKey`` with the named curve
  ``1.2.156.10197.1.301`` and are signed with ``1.2.156.10197.1.501``
  (SM2-with-SM3), parameters absent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from asn1crypto import algos, crl, keys
from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

from elicense.crypto.profile import (
    CERTIFICATE_ERRORS,
    DEFAULT_PUBLICATION_BASE,
    LICENCE_SIGNER_EKUS,
    OID_EKU_LICENCE_SIGNING,
    OID_POLICY_LICENCE,
    ValidatedChain,
    common_name_of,
    key_usage,
    publication_extensions,
    subject_name,
)
from elicense.errors import CryptoError, TrustError

DEFAULT_USER_ID = b"1234567812345678"
"""GB/T 35276 default signer id; the only one this profile uses."""
OID_SM2_CURVE = "1.2.156.10197.1.301"
"""Named curve ``sm2p256v1`` (GM/T 0006)."""
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
"""Signature algorithm SM2-with-SM3."""
OID_SM3 = "1.2.156.10197.1.401"
"""Hash algorithm SM3."""
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
"""``id-ecPublicKey`` (RFC 5480), the key algorithm of SM2 certificates."""

# GB/T 32918.5 recommended curve parameters (public constants, for Z and range checks).
P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
GX = 0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7
GY = 0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123

_E = TypeVar("_E", bound=x509.ExtensionType)

MAX_USER_ID_BYTES = 8191  # ENTL is 16 bits of *bits*
MAX_CERT_BYTES = 64 * 1024
MAX_CHAIN_DEPTH = 4
RAW_SIGNATURE_LENGTH = 64


def _backend() -> Any:
    """The tongsuopy modules, imported on first use (keeps the ES256 path light)."""
    try:
        from tongsuopy.crypto import hashes as t_hashes
        from tongsuopy.crypto import serialization as t_ser
        from tongsuopy.crypto.asymciphers import ec as t_ec
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise CryptoError(
            "SM2 needs the 'tongsuopy' package: pip install 'elicense[sm]'",
            message_zh="SM2 算法需要安装 tongsuopy（pip install 'elicense[sm]'）",
        ) from exc
    return t_ec, t_hashes, t_ser


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905) via ``cryptography``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def z_value(point: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GB/T 32918.2 §5.5)."""
    if len(point) != 65 or point[0] != 4:
        raise CryptoError("SM2 public point must be 65 bytes, uncompressed")
    if len(user_id) > MAX_USER_ID_BYTES:
        raise CryptoError("SM2 user id too long")
    consts = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + consts + point[1:])


def signed_digest(point: bytes, data: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """``e = SM3(Z ‖ M)``: what an SM2 signature actually signs."""
    return sm3(z_value(point, user_id) + data)


def _check_user_id(user_id: bytes) -> None:
    if user_id != DEFAULT_USER_ID:
        raise CryptoError(
            "only the default SM2 user id 1234567812345678 is supported",
            message_zh="仅支持 SM2 默认用户标识 1234567812345678",
        )


# -- verification with another user id ---------------------------------------------------------

_Jac = tuple[int, int, int]


def _jac_double(p: _Jac) -> _Jac:
    x, y, z = p
    if y == 0 or z == 0:
        return (0, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = (3 * x * x + A * zz * zz) % P
    x3 = (m * m - 2 * s) % P
    return (x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P)


def _jac_add(p: _Jac, q: _Jac) -> _Jac:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    z1z1, z2z2 = p[2] * p[2] % P, q[2] * q[2] % P
    u1, u2 = p[0] * z2z2 % P, q[0] * z1z1 % P
    s1, s2 = p[1] * q[2] * z2z2 % P, q[1] * p[2] * z1z1 % P
    if u1 == u2:
        return _jac_double(p) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % P, (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return (x3, (r * (v - x3) - s1 * hhh) % P, h * p[2] * q[2] % P)


def verify_with_user_id(public_key: Sm2PublicKey, signature: bytes, data: bytes, user_id: bytes) -> bool:
    """SM2 verification (GB/T 32918.2 §7.1) with any user id.

    Tongsuo only offers the default id; some seal systems sign with another one (configured by
    the relying party, never guessed). Only public values are involved, so this plain
    arithmetic (Shamir's trick, Jacobian coordinates) needs no constant-time care. Never raises
    on a bad signature.
    """
    if not isinstance(user_id, bytes) or len(user_id) > MAX_USER_ID_BYTES:
        return False
    try:
        r, s = parse_der_signature(signature)
    except CryptoError:
        return False
    t = (r + s) % N
    if t == 0:
        return False
    e = int.from_bytes(signed_digest(public_key.point, data, user_id), "big")
    g: _Jac = (GX, GY, 1)
    q: _Jac = (int.from_bytes(public_key.point[1:33], "big"), int.from_bytes(public_key.point[33:], "big"), 1)
    both = _jac_add(g, q)
    acc: _Jac = (0, 1, 0)
    for bit in range(max(s.bit_length(), t.bit_length()) - 1, -1, -1):
        acc = _jac_double(acc)
        a, b = (s >> bit) & 1, (t >> bit) & 1
        if a and b:
            acc = _jac_add(acc, both)
        elif a:
            acc = _jac_add(acc, g)
        elif b:
            acc = _jac_add(acc, q)
    if acc[2] == 0:
        return False
    x1 = acc[0] * pow(acc[2] * acc[2] % P, -1, P) % P
    return (e + x1) % N == r


# -- signature encoding ----------------------------------------------------------------------


def parse_der_signature(signature: bytes) -> tuple[int, int]:
    """Strictly parse DER ``SEQUENCE{r,s}``: canonical encoding and ``1 <= r, s < n``."""
    if not 8 <= len(signature) <= 72:
        raise CryptoError("SM2 signature has an impossible length")
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise CryptoError("SM2 signature is not DER SEQUENCE{r,s}") from exc
    if encode_dss_signature(r, s) != signature:
        raise CryptoError("SM2 signature is not canonical DER")
    if not (0 < r < N and 0 < s < N):
        raise CryptoError("SM2 signature values out of range")
    return r, s


def der_to_raw(signature: bytes) -> bytes:
    """DER → fixed-length ``r‖s`` (the COSE form)."""
    r, s = parse_der_signature(signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_to_der(signature: bytes) -> bytes:
    """Fixed-length ``r‖s`` → DER; a wrong length or out-of-range value is refused."""
    if len(signature) != RAW_SIGNATURE_LENGTH:
        raise CryptoError("SM2 raw signature must be 64 bytes")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < N and 0 < s < N):
        raise CryptoError("SM2 signature values out of range")
    return encode_dss_signature(r, s)


# -- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Sm2PublicKey:
    """An SM2 public key on the recommended curve."""

    point: bytes
    """Uncompressed point ``04 ‖ x ‖ y`` (65 bytes)."""
    _key: Any = field(repr=False)
    """The backend key object (kept to avoid re-validating the point per verification)."""

    @classmethod
    def from_point(cls, data: bytes) -> Sm2PublicKey:
        """Load an encoded point (uncompressed or compressed); off-curve points are refused."""
        t_ec, _, t_ser = _backend()
        if not isinstance(data, bytes) or len(data) not in (33, 65) or data[0] not in (2, 3, 4):
            raise CryptoError("not an SM2 public point")
        try:
            key = t_ec.EllipticCurvePublicKey.from_encoded_point(t_ec.SM2(), data)
        except ValueError as exc:
            raise CryptoError("SM2 public point is not on the curve") from exc
        point = key.public_bytes(t_ser.Encoding.X962, t_ser.PublicFormat.UncompressedPoint)
        return cls(point, key)

    @classmethod
    def from_spki(cls, der: bytes) -> Sm2PublicKey:
        """Load a DER SubjectPublicKeyInfo with ``id-ecPublicKey`` + the SM2 curve."""
        try:
            info = keys.PublicKeyInfo.load(der, strict=True)
            alg = info["algorithm"]
            algorithm = alg["algorithm"].dotted
            if algorithm != OID_EC_PUBLIC_KEY:  # another algorithm's parameters parse as an opaque Any
                raise CryptoError("public key is not an SM2 key")
            params = alg["parameters"]
            curve = params.chosen.dotted if params.name == "named" else None
            point = bytes(info["public_key"].native)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CryptoError(f"invalid SubjectPublicKeyInfo: {exc}") from exc
        if algorithm != OID_EC_PUBLIC_KEY or curve != OID_SM2_CURVE:
            raise CryptoError("public key is not an SM2 key")
        return cls.from_point(point)

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> Sm2PublicKey:
        """The SM2 key of a certificate (``cryptography`` cannot load it itself)."""
        return cls.from_spki(_spki_der(certificate))

    def spki(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        _, _, t_ser = _backend()
        der: bytes = self._key.public_bytes(t_ser.Encoding.DER, t_ser.PublicFormat.SubjectPublicKeyInfo)
        return der

    def z(self, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """This key's Z value."""
        return z_value(self.point, user_id)

    def verify(self, signature: bytes, data: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bool:
        """Verify a DER signature over ``data`` (Z with the default id). Never raises on a bad one."""
        _check_user_id(user_id)
        try:
            parse_der_signature(signature)
        except CryptoError:
            return False
        t_ec, t_hashes, _ = _backend()
        try:
            self._key.verify(signature, data, t_ec.ECDSA(t_hashes.SM3()))
        except Exception:  # tongsuopy raises InvalidSignature (its own class) or ValueError
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other.point == self.point

    def __hash__(self) -> int:
        return hash(self.point)


@dataclass(frozen=True, eq=False)
class Sm2PrivateKey:
    """An SM2 private key (in memory; on disk only as encrypted PKCS#8)."""

    _key: Any = field(repr=False)
    """The backend key object."""

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A fresh key from the backend's CSPRNG."""
        t_ec, _, _ = _backend()
        return cls(t_ec.generate_private_key(t_ec.SM2()))

    @classmethod
    def from_private_value(cls, value: int) -> Sm2PrivateKey:
        """A key from its scalar (known-answer tests, HSM imports); ``1 <= d <= n-2``."""
        if not isinstance(value, int) or not 1 <= value <= N - 2:
            raise CryptoError("SM2 private value out of range")
        t_ec, _, _ = _backend()
        return cls(t_ec.derive_private_key(value, t_ec.SM2()))

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, passphrase: bytes) -> Sm2PrivateKey:
        """Load encrypted PKCS#8 PEM; unencrypted keys are refused (as in :mod:`.keys`)."""
        if b"ENCRYPTED" not in pem[:64]:
            raise CryptoError("private key is not encrypted at rest", message_zh="私钥未加密保存")
        t_ec, _, t_ser = _backend()
        try:
            key = t_ser.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            raise CryptoError(
                "cannot decrypt SM2 private key (wrong passphrase or corrupt file)",
                message_zh="无法解密 SM2 私钥（口令错误或文件损坏）",
            ) from exc
        if not isinstance(key, t_ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise CryptoError("not an SM2 private key")
        return cls(key)

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        """Encrypted PKCS#8 PEM (``BestAvailableEncryption``)."""
        if not passphrase:
            raise CryptoError(
                "refusing to store a private key without a passphrase",
                message_zh="私钥必须加密保存，口令不能为空",
            )
        _, _, t_ser = _backend()
        pem: bytes = self._key.private_bytes(
            t_ser.Encoding.PEM,
            t_ser.PrivateFormat.PKCS8,
            t_ser.BestAvailableEncryption(passphrase),
        )
        return pem

    def public_key(self) -> Sm2PublicKey:
        """The matching public key."""
        _, _, t_ser = _backend()
        pub = self._key.public_key()
        return Sm2PublicKey(pub.public_bytes(t_ser.Encoding.X962, t_ser.PublicFormat.UncompressedPoint), pub)

    def sign(self, data: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """Sign ``data`` (SM3 with Z); DER ``SEQUENCE{r,s}``."""
        _check_user_id(user_id)
        t_ec, t_hashes, _ = _backend()
        signature: bytes = bytes(self._key.sign(data, t_ec.ECDSA(t_hashes.SM3())))
        return signature


# -- certificates ----------------------------------------------------------------------------


def _spki_der(certificate: x509.Certificate) -> bytes:
    tbs = a509.TbsCertificate.load(certificate.tbs_certificate_bytes)
    der: bytes = tbs["subject_public_key_info"].dump()
    return der


def is_sm2_certificate(certificate: x509.Certificate) -> bool:
    """Whether the certificate is signed with SM2-with-SM3 or carries an SM2 key."""
    if certificate.signature_algorithm_oid.dotted_string == OID_SM2_WITH_SM3:
        return True
    try:
        certificate.public_key()
    except Exception:  # cryptography cannot load SM2 keys: look at the SPKI ourselves
        try:
            Sm2PublicKey.from_spki(_spki_der(certificate))
        except CryptoError:
            return False
        return True
    return False


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate (bounded); typed error on garbage."""
    if not isinstance(der, bytes) or len(der) > MAX_CERT_BYTES:
        raise CryptoError("certificate too large or not bytes")
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.extensions)  # parsed lazily by cryptography: fail here, typed
    except CERTIFICATE_ERRORS as exc:
        raise CryptoError(f"invalid DER certificate: {exc}") from exc
    return cert


def certificate_der(certificate: x509.Certificate) -> bytes:
    """DER bytes of a certificate."""
    return certificate.public_bytes(serialization.Encoding.DER)


def verify_certificate_signature(certificate: x509.Certificate, issuer: Sm2PublicKey) -> bool:
    """Whether ``issuer`` made the SM2-with-SM3 signature of ``certificate``."""
    if certificate.signature_algorithm_oid.dotted_string != OID_SM2_WITH_SM3:
        return False

    inner = a509.TbsCertificate.load(certificate.tbs_certificate_bytes)["signature"]
    if inner["algorithm"].dotted != OID_SM2_WITH_SM3:
        return False  # the signed and unsigned algorithm fields must agree (RFC 5280 §4.1.1.2)
    return issuer.verify(certificate.signature, certificate.tbs_certificate_bytes)


def _key_identifier(public_key: Sm2PublicKey) -> bytes:
    """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (an identifier, not security)."""
    return hashlib.sha1(public_key.point, usedforsecurity=False).digest()


def _sign_tbs(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: Sm2PublicKey,
    issuer_key: Sm2PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """Build a TBSCertificate and sign it with SM2.

    ``cryptography``'s builder lays out the names, times and extensions (one
    encoder for both suites); its throwaway P-256 key and signature are
    replaced: the SPKI and both algorithm fields are swapped with asn1crypto
    and the result is signed with ``issuer_key``.
    """
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise CryptoError("certificate validity times must be timezone-aware (UTC)")
    if not_after <= not_before:
        raise CryptoError("certificate not_after must be later than not_before")
    scratch = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(scratch.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    template = builder.sign(scratch, hashes.SHA256())
    tbs = a509.TbsCertificate.load(template.tbs_certificate_bytes)
    tbs["subject_public_key_info"] = keys.PublicKeyInfo.load(public_key.spki())
    tbs["signature"] = algos.SignedDigestAlgorithm({"algorithm": OID_SM2_WITH_SM3})
    tbs_der = tbs.dump(force=True)
    signature = issuer_key.sign(tbs_der)
    cert = a509.Certificate(
        {
            "tbs_certificate": a509.TbsCertificate.load(tbs_der),
            "signature_algorithm": {"algorithm": OID_SM2_WITH_SM3},
            "signature_value": signature,
        }
    )
    return load_certificate(cert.dump())


def _ku(*, ca: bool) -> x509.KeyUsage:
    return key_usage(ca=ca)


def make_sm2_root(
    key: Sm2PrivateKey,
    common_name: str,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
    path_length: int | None = 1,
) -> x509.Certificate:
    """Self-signed SM2 root, same profile as :func:`elicense.crypto.pki.make_root`."""
    name = subject_name(common_name, organization=common_name)
    pub = key.public_key()
    ski = _key_identifier(pub)
    return _sign_tbs(
        name, name, pub, key, not_before, not_after, serial,
        [
            (x509.BasicConstraints(ca=True, path_length=path_length), True),
            (_ku(ca=True), True),
            (x509.SubjectKeyIdentifier(ski), False),
        ],
    )  # fmt: skip


def make_sm2_regional_ca(
    key: Sm2PrivateKey,
    common_name: str,
    *,
    province: str,
    issuer_cert: x509.Certificate,
    issuer_key: Sm2PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
    publication_base: str | None = None,
) -> x509.Certificate:
    """SM2 regional CA (path length 0), as :func:`elicense.crypto.pki.make_regional_ca`."""
    pub = key.public_key()
    return _sign_tbs(
        subject_name(common_name, organization=common_name, province=province),
        issuer_cert.subject, pub, issuer_key, not_before, not_after, serial,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_ku(ca=True), True),
            (x509.SubjectKeyIdentifier(_key_identifier(pub)), False),
            (x509.AuthorityKeyIdentifier(_key_identifier(issuer_key.public_key()), None, None), False),
            (x509.CertificatePolicies([x509.PolicyInformation(OID_POLICY_LICENCE, None)]), False),
            *publication_extensions(issuer_cert, publication_base or DEFAULT_PUBLICATION_BASE),
        ],
    )  # fmt: skip


def make_sm2_end_entity(
    public_key: Sm2PublicKey,
    common_name: str,
    *,
    uscc: str | None,
    province: str | None,
    issuer_cert: x509.Certificate,
    issuer_key: Sm2PrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    eku: ObjectIdentifier | Sequence[ObjectIdentifier] | None = None,
    serial: int | None = None,
    publication_base: str | None = None,
) -> x509.Certificate:
    """SM2 signing certificate of an authority, as :func:`elicense.crypto.pki.make_end_entity`."""
    if eku is None:
        ekus = list(LICENCE_SIGNER_EKUS)
    elif isinstance(eku, ObjectIdentifier):
        ekus = [eku]
    else:
        ekus = list(eku)
    return _sign_tbs(
        subject_name(common_name, organization=common_name, uscc=uscc, province=province),
        issuer_cert.subject, public_key, issuer_key, not_before, not_after, serial,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_ku(ca=False), True),
            (x509.ExtendedKeyUsage(ekus), False),
            (x509.SubjectKeyIdentifier(_key_identifier(public_key)), False),
            (x509.AuthorityKeyIdentifier(_key_identifier(issuer_key.public_key()), None, None), False),
            (x509.CertificatePolicies([x509.PolicyInformation(OID_POLICY_LICENCE, None)]), False),
            *publication_extensions(issuer_cert, publication_base or DEFAULT_PUBLICATION_BASE),
        ],
    )  # fmt: skip


# -- chain validation ------------------------------------------------------------------------

_KNOWN_EXTENSIONS = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)


def _extension(cert: x509.Certificate, ext_type: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None


def _check_extensions(cert: x509.Certificate) -> None:
    try:
        exts = cert.extensions
    except ValueError as exc:
        raise TrustError(f"certificate extensions are malformed: {exc}") from exc
    for ext in exts:
        if ext.critical and ext.oid not in _KNOWN_EXTENSIONS:
            raise TrustError(f"unknown critical extension {ext.oid.dotted_string}")


def _check_ca(cert: x509.Certificate, below: int) -> None:
    """``below`` = number of CA certificates between this one and the leaf."""
    bc = _extension(cert, x509.BasicConstraints)
    if bc is None or not bc.ca:
        raise TrustError("issuer certificate is not a CA")
    if bc.path_length is not None and below > bc.path_length:
        raise TrustError("CA path length constraint exceeded")
    ku = _extension(cert, x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        raise TrustError("CA certificate lacks the keyCertSign key usage")


def _check_leaf(cert: x509.Certificate, eku: ObjectIdentifier | None) -> None:
    bc = _extension(cert, x509.BasicConstraints)
    if bc is not None and bc.ca:
        raise TrustError("signing certificate must not be a CA")
    ku = _extension(cert, x509.KeyUsage)
    if ku is None or not ku.digital_signature:
        raise TrustError("signing certificate lacks the digitalSignature key usage")
    if eku is not None:
        ext = _extension(cert, x509.ExtendedKeyUsage)
        if ext is None or eku not in ext:
            raise TrustError(f"certificate lacks extended key usage {eku.dotted_string}")


def _sm2_key(cert: x509.Certificate) -> Sm2PublicKey:
    try:
        return Sm2PublicKey.from_certificate(cert)
    except CryptoError as exc:
        raise TrustError(f"not an SM2 certificate: {exc}") from exc


def validate_sm2_chain(
    leaf: x509.Certificate,
    *,
    roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    eku: ObjectIdentifier | None = None,
) -> ValidatedChain:
    """Validate an all-SM2 chain from ``leaf`` to one of ``roots``.

    No maintained Python path validator checks SM2 signatures, so this is a
    deliberately small RFC 5280 subset, the same rules the ``cryptography``
    path of :func:`elicense.crypto.pki.validate_chain` enforces for our
    profile: issuer name + SM2 signature at each step, CA basic constraints
    and path length, keyCertSign, leaf digitalSignature + EKU, no unknown
    critical extension, depth ≤ 4, and a non-empty common validity window.
    Non-SM2 roots are ignored. Raises :class:`TrustError`.
    """
    required_eku = OID_EKU_LICENCE_SIGNING if eku is None else eku
    sm2_roots = [r for r in roots if is_sm2_certificate(r)]
    if not sm2_roots:
        raise TrustError("no SM2 trust anchors given")
    pool = [c for c in intermediates if is_sm2_certificate(c)]
    try:
        _check_extensions(leaf)
        _check_leaf(leaf, required_eku)
        key_cache: dict[bytes, Sm2PublicKey] = {}

        def key_of(cert: x509.Certificate) -> Sm2PublicKey:
            der = certificate_der(cert)
            if der not in key_cache:
                key_cache[der] = _sm2_key(cert)
            return key_cache[der]

        key_of(leaf)
        root_ders = {certificate_der(r) for r in sm2_roots}

        def build(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
            current = path[-1]
            if certificate_der(current) in root_ders:
                return path
            if len(path) >= MAX_CHAIN_DEPTH:
                return None
            for candidate in [*sm2_roots, *pool]:
                if candidate.subject != current.issuer or candidate in path:
                    continue
                try:
                    _check_extensions(candidate)
                    _check_ca(candidate, below=len(path) - 1)
                    ok = verify_certificate_signature(current, key_of(candidate))
                except TrustError:
                    continue
                if ok:
                    found = build([*path, candidate])
                    if found is not None:
                        return found
            return None

        chain = build([leaf])
    except TrustError as exc:
        raise TrustError(f"certificate {common_name_of(leaf)!r} is not acceptable: {exc.message}") from exc
    if chain is None or len(chain) < 2:
        raise TrustError(f"certificate {common_name_of(leaf)!r} does not chain to an SM2 trust anchor")
    not_before = max(c.not_valid_before_utc for c in chain)
    not_after = min(c.not_valid_after_utc for c in chain)
    if not_before > not_after:
        raise TrustError(f"certificate {common_name_of(leaf)!r}: the chain is never valid at one time")
    return ValidatedChain(certificate=leaf, chain=tuple(chain), not_before=not_before, not_after=not_after)


# -- CRLs ------------------------------------------------------------------------------------

MAX_CRL_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Sm2Crl:
    """A parsed X.509 v2 CRL signed with SM2-with-SM3 (signature not yet checked)."""

    der: bytes = field(repr=False)
    """The DER bytes."""
    issuer: x509.Name
    """Issuer name."""
    this_update: dt.datetime
    """``thisUpdate`` (UTC)."""
    next_update: dt.datetime | None
    """``nextUpdate`` (UTC), if any."""
    revoked: dict[int, dt.datetime] = field(repr=False)
    """Revoked serial number → revocation date (UTC): an index, not a linear scan."""
    tbs: bytes = field(repr=False)
    """The signed ``tbsCertList`` bytes."""
    signature: bytes = field(repr=False)
    """DER SM2 signature."""

    @classmethod
    def load(cls, der: bytes) -> Sm2Crl:
        """Parse (bounded); typed error on garbage or a non-SM2 CRL."""
        if not isinstance(der, bytes) or len(der) > MAX_CRL_BYTES:
            raise CryptoError("CRL too large or not bytes")
        try:
            parsed = crl.CertificateList.load(der, strict=True)
            tbs = parsed["tbs_cert_list"]
            if parsed["signature_algorithm"]["algorithm"].dotted != OID_SM2_WITH_SM3:
                raise CryptoError("CRL is not signed with SM2-with-SM3")
            if tbs["signature"]["algorithm"].dotted != OID_SM2_WITH_SM3:
                raise CryptoError("CRL algorithm fields disagree")
            revoked: dict[int, dt.datetime] = {}
            for entry in tbs["revoked_certificates"]:
                revoked[int(entry["user_certificate"].native)] = entry["revocation_date"].native
            nu = tbs["next_update"].native
            return cls(
                der=der,
                issuer=_name_from_der(tbs["issuer"].dump()),
                this_update=tbs["this_update"].native,
                next_update=nu,
                revoked=revoked,
                tbs=tbs.dump(),
                signature=bytes(parsed["signature"].native),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise CryptoError(f"invalid CRL: {exc}") from exc

    def verify(self, issuer: x509.Certificate) -> bool:
        """Whether ``issuer`` (an SM2 CA certificate with this name) signed the CRL."""
        if issuer.subject != self.issuer:
            return False
        try:
            key = Sm2PublicKey.from_certificate(issuer)
        except CryptoError:
            return False
        return key.verify(self.signature, self.tbs)

    def covers(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies in ``[thisUpdate, nextUpdate]``."""
        return self.this_update <= when and (self.next_update is None or when <= self.next_update)


def _name_from_der(der: bytes) -> x509.Name:
    """An ``x509.Name`` from DER (cryptography has no loader for a bare Name)."""
    name = a509.Name.load(der)
    attrs = []
    for rdn in name.chosen:
        for atv in rdn:
            oid = x509.ObjectIdentifier(atv["type"].dotted)
            value = atv["value"].native
            attrs.append(x509.NameAttribute(oid, str(value)))
    return x509.Name(attrs)


def make_sm2_crl(
    issuer_cert: x509.Certificate,
    issuer_key: Sm2PrivateKey,
    *,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked: Sequence[tuple[int, dt.datetime]] = (),
    number: int = 1,
) -> bytes:
    """An SM2-signed X.509 v2 CRL (DER) with a CRL number."""
    if this_update.tzinfo is None or next_update.tzinfo is None:
        raise CryptoError("CRL times must be timezone-aware (UTC)")
    issuer = a509.Name.load(issuer_cert.subject.public_bytes())
    tbs = crl.TbsCertList(
        {
            "version": "v2",
            "signature": {"algorithm": OID_SM2_WITH_SM3},
            "issuer": issuer,
            "this_update": a509.Time({"utc_time": this_update}),
            "next_update": a509.Time({"utc_time": next_update}),
            "revoked_certificates": [
                {"user_certificate": serial, "revocation_date": a509.Time({"utc_time": when})}
                for serial, when in revoked
            ],
            "crl_extensions": [{"extn_id": "crl_number", "critical": False, "extn_value": number}],
        }
    )
    tbs_der = tbs.dump()
    cert_list = crl.CertificateList(
        {
            "tbs_cert_list": crl.TbsCertList.load(tbs_der),
            "signature_algorithm": {"algorithm": OID_SM2_WITH_SM3},
            "signature": issuer_key.sign(tbs_der),
        }
    )
    der: bytes = cert_list.dump()
    return der


# -- signer ----------------------------------------------------------------------------------


def generate_sm2_key() -> Sm2PrivateKey:
    """A fresh SM2 key (shortcut for :meth:`Sm2PrivateKey.generate`)."""
    return Sm2PrivateKey.generate()


# -- root rotation (added for the all-SM2 world) ------------------------------------------------


def make_sm2_cross_certificate(
    new_root: x509.Certificate, old_root: x509.Certificate, old_root_key: Sm2PrivateKey, *, serial: int | None = None
) -> x509.Certificate:
    """The old SM2 root's announcement of a new SM2 root: the new root's name and key, SM2-signed by the old one.

    The SM2 counterpart of :func:`elicense.trust.bundle.make_cross_certificate` (same profile:
    CA, path length 1, validity within both roots).
    """
    if Sm2PublicKey.from_certificate(old_root) != old_root_key.public_key():
        raise CryptoError("the old root key does not match the old root certificate")
    new_key = Sm2PublicKey.from_certificate(new_root)
    return _sign_tbs(
        new_root.subject, old_root.subject, new_key, old_root_key, new_root.not_valid_before_utc,
        min(new_root.not_valid_after_utc, old_root.not_valid_after_utc), serial,
        [
            (x509.BasicConstraints(ca=True, path_length=1), True),
            (_ku(ca=True), True),
            (x509.SubjectKeyIdentifier(_key_identifier(new_key)), False),
            (x509.AuthorityKeyIdentifier(_key_identifier(old_root_key.public_key()), None, None), False),
        ],
    )  # fmt: skip


def make_sm2_cross_certificate_by_ecdsa(
    new_root: x509.Certificate,
    old_root: x509.Certificate,
    old_root_key: ec.EllipticCurvePrivateKey,
    *,
    serial: int | None = None,
) -> x509.Certificate:
    """An ECDSA (P-256) root's announcement of a new SM2 root: a migration from ES256 to SM2 by rotation.

    ``cryptography`` lays out the certificate around a throwaway P-256 key (it cannot hold an SM2
    key); the SPKI is swapped for the new root's SM2 key with asn1crypto and the TBSCertificate is
    signed with ECDSA-with-SHA256 by ``old_root_key``. Same profile as the SM2 cross-certificate.
    """
    if not isinstance(old_root_key, ec.EllipticCurvePrivateKey) or old_root_key.public_key() != old_root.public_key():
        raise CryptoError("the old root key does not match the old (ECDSA) root certificate")
    new_key = Sm2PublicKey.from_certificate(new_root)
    scratch = ec.generate_private_key(ec.SECP256R1())
    template = (
        x509.CertificateBuilder()
        .subject_name(new_root.subject)
        .issuer_name(old_root.subject)
        .public_key(scratch.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(new_root.not_valid_before_utc)
        .not_valid_after(min(new_root.not_valid_after_utc, old_root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ku(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(_key_identifier(new_key)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(old_root_key.public_key()), critical=False)
        .sign(scratch, hashes.SHA256())
    )
    tbs = a509.TbsCertificate.load(template.tbs_certificate_bytes)
    tbs["subject_public_key_info"] = keys.PublicKeyInfo.load(new_key.spki())
    tbs_der = tbs.dump(force=True)
    cert = a509.Certificate({
        "tbs_certificate": a509.TbsCertificate.load(tbs_der),
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature_value": old_root_key.sign(tbs_der, ec.ECDSA(hashes.SHA256())),
    })  # fmt: skip
    return load_certificate(cert.dump())


__all__ = [
    "DEFAULT_USER_ID",
    "OID_SM2_CURVE",
    "OID_SM2_WITH_SM3",
    "OID_SM3",
    "Sm2Crl",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "der_to_raw",
    "generate_sm2_key",
    "is_sm2_certificate",
    "make_sm2_crl",
    "make_sm2_cross_certificate",
    "make_sm2_cross_certificate_by_ecdsa",
    "make_sm2_end_entity",
    "make_sm2_regional_ca",
    "make_sm2_root",
    "parse_der_signature",
    "raw_to_der",
    "signed_digest",
    "sm3",
    "validate_sm2_chain",
    "verify_certificate_signature",
    "verify_with_user_id",
    "z_value",
]
