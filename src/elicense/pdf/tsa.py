"""Timestamps and revocation data for PAdES B-T / B-LT / B-LTA, without a network.

* :class:`LocalTSA` is an RFC 3161 time-stamping authority that runs in process: it
  answers ``TimeStampReq`` s with ``TimeStampToken`` s built here (asn1crypto structures,
  ECDSA P-256 / SHA-256 signatures by ``cryptography``), stamped with **its own clock**
  (the wall clock unless a test injects one — never the licence's signing time), under
  the project's time-stamp policy (``OID_TSA_POLICY``), signed by a TSA certificate with
  a critical ``id-kp-timeStamping`` EKU issued by the home's root. Demos and air-gapped
  issuers use it; production issuers point ``--tsa-url`` at their TSA (pyHanko
  ``HTTPTimeStamper``), which speaks the same protocol.
* :func:`elicense.documents.options_for_home` (a layer up: it reads an issuer home) turns a
  level (``B-B``/``B-T``/``B-LT``/``B-LTA``) into :class:`~elicense.pdf.sign.PdfSigningOptions`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from elicense.crypto.pki import (
    DEFAULT_PUBLICATION_BASE,
    OID_POLICY_LICENCE,
    OID_TSA_POLICY,
    publication_extensions,
    sign_certificate,
)
from elicense.model import require_utc
from elicense.pdf import PADES_LEVELS

if TYPE_CHECKING:
    from elicense.crypto.algorithms import PrivateKey

__all__ = ["PDF_LEVELS", "LocalTSA"]

PDF_LEVELS = PADES_LEVELS
"""PAdES baseline levels offered (one declaration: :data:`elicense.pdf.PADES_LEVELS`)."""

_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Message-imprint algorithms the TSA accepts, with their digest sizes."""


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class LocalTSA:
    """An in-process RFC 3161 TSA certified by one of our CAs (demos, tests, offline issuers)."""

    certificate: x509.Certificate
    """The TSA certificate (critical ``id-kp-timeStamping`` EKU)."""
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    """The TSA key (P-256)."""
    chain: tuple[x509.Certificate, ...] = ()
    """Certificates above the TSA certificate (embedded in each token when asked for)."""
    clock: Callable[[], dt.datetime] = _wall_clock
    """Where ``genTime`` comes from: the current time (tests may inject a clock)."""

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
        publication_base: str | None = None,
        clock: Callable[[], dt.datetime] = _wall_clock,
    ) -> LocalTSA:
        """Issue a TSA certificate under ``issuer_cert`` for a fresh P-256 key."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
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
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)  # RFC 3161 §2.3
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .add_extension(x509.CertificatePolicies([x509.PolicyInformation(OID_POLICY_LICENCE, None)]), critical=False)
        )
        for ext, critical in publication_extensions(issuer_cert, publication_base or DEFAULT_PUBLICATION_BASE):
            builder = builder.add_extension(ext, critical=critical)
        return cls(sign_certificate(builder, issuer_key), key, (issuer_cert, *chain), clock)

    def respond(self, request: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Answer one RFC 3161 request: a token over its message imprint at the current time."""

        def refuse(why: str, fail: str) -> tsp.TimeStampResp:
            return tsp.TimeStampResp(
                {
                    "status": tsp.PKIStatusInfo(
                        {"status": "rejection", "status_string": [why], "fail_info": tsp.PKIFailureInfo({fail})}
                    )
                }
            )

        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in _DIGESTS:
            return refuse(f"unsupported message imprint algorithm {algorithm}", "bad_alg")
        if len(imprint["hashed_message"].native) != _DIGESTS[algorithm]:
            return refuse("message imprint has the wrong length", "bad_data_format")
        policy = request["req_policy"].native
        if policy is not None and policy != OID_TSA_POLICY.dotted_string:
            return refuse(f"unaccepted policy {policy}", "unaccepted_policy")
        gen_time = require_utc(self.clock(), "clock()").replace(microsecond=0)
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        tsa_cert = asn1_x509.Certificate.load(der)
        info = {
            "version": "v1",
            "policy": OID_TSA_POLICY.dotted_string,
            "message_imprint": imprint,
            "serial_number": secrets.randbits(127) | 1 << 126,  # unique, positive (RFC 3161 §2.4.2)
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"]
        tst_der = tsp.TSTInfo(info).dump()
        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(gen_time)})]}),
                cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [
                            tsp.SigningCertificateV2(
                                {
                                    "certs": [
                                        tsp.ESSCertIDv2(
                                            {
                                                "hash_algorithm": {"algorithm": "sha256"},
                                                "cert_hash": hashlib.sha256(der).digest(),
                                            }
                                        )
                                    ]
                                }
                            )
                        ],
                    }
                ),
            ]
        )
        signature = self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
                        )
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signed_attrs": signed_attrs,
                "signature": signature,
            }
        )
        certs = (
            [tsa_cert, *(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self.chain)]
            if request["cert_req"].native
            else []
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_der)},
                "certificates": certs,
                "signer_infos": [signer_info],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        return tsp.TimeStampResp({"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token})

    def timestamper(self) -> Any:
        """A pyHanko ``TimeStamper`` that asks this TSA (in process) for each token."""
        from pyhanko.sign.timestamps.api import TimeStamper

        tsa = self

        class _LocalTimeStamper(TimeStamper):
            async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
                return tsa.respond(req)

            def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
                """Synchronous form (an HTTP front end calls this)."""
                return tsa.respond(req)

        return _LocalTimeStamper()  # type: ignore[no-untyped-call]
