"""Seal and sign a rendered licence PDF (pyHanko, PAdES baseline).

Profile:

* **PAdES B-B** (``ETSI.CAdES.detached``, SHA-256) by the issuing authority's key,
  through the :class:`~elicense.crypto.keys.Signer` protocol (an HSM signs the same
  way as a software key: pyHanko hands us the signed attributes, we return DER).
* **B-T** when a :class:`pyhanko.sign.timestamps.TimeStamper` (or an in-process
  :class:`~elicense.pdf.tsa.LocalTSA`) is given: a signature timestamp from an
  RFC 3161 TSA; **B-LT** when, on top, revocation data (CRLs) and trust roots are
  given: pyHanko validates the signer at signing time (hard-fail, no fetching) and
  writes the certificates and CRLs it used into the document security store (DSS),
  so a verifier needs no network and no CRL of its own.
* **DocMDP certification with P=1 (no changes).** PAdES (ETSI EN 319 142-1, and
  TS 102 778-4 annex A before it) exempts DSS and document-timestamp updates from
  DocMDP restrictions, and pyHanko's difference analysis applies exactly that rule:
  adding validation data or an archive timestamp later keeps the signature valid,
  anything else (form filling, annotations, other signatures, new content) is a
  violation. P=2 would have *permitted* form filling and further signatures, so
  a second signature by anyone would pass as "allowed" in ordinary readers.
* The visible appearance of the signature is the authority's **seal image**,
  placed over the authority name and date (``RenderedLicence.seal_box``).
* ``bytes_reserved`` is fixed from the size of the certificates that go into the
  CMS (no trial signature: that doubles the signing cost).
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from asn1crypto import algos, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers.constants import ESIC_EXTENSION_1
from pyhanko.sign.signers.pdf_signer import PdfSigningSession, PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from elicense.crypto.algorithms import Algorithm
from elicense.errors import CryptoError, UsageError
from elicense.model import require_utc
from elicense.pdf import PADES_LEVELS
from elicense.pdf.options import PdfSigningOptions
from elicense.pdf.render import render_licence
from elicense.pdf.tsa import LocalTSA
from elicense.seal import SealSpec, render_seal_png

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.crypto.keys import Signer
    from elicense.issue import IssuedLicence
    from elicense.pdf.render import RenderedLicence

__all__ = [
    "SIGNATURE_FIELD",
    "PdfSigningOptions",
    "bytes_to_reserve",
    "extend_pdf",
    "pades_level",
    "prepare_options",
    "prepare_signer",
    "seal_and_sign",
    "sign_pdf",
]

SIGNATURE_FIELD = "ElicenseSeal"
"""Name of the issuer's signature field."""

_CMS_OVERHEAD = 2048
_TIMESTAMP_RESERVE = 8192


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def bytes_to_reserve(signer: Signer, *, timestamp: bool = False) -> int:
    """Size of the signature hole, in hex digits (pyHanko's unit: two per DER byte).

    Certificates + signature + signed attributes (+ a timestamp token), rounded
    up to 1 KiB; a too-small hole fails loudly, a too-large one slows validation.
    """
    certs = sum(len(c.public_bytes(serialization.Encoding.DER)) for c in (signer.certificate, *signer.chain))
    size = certs + _CMS_OVERHEAD + (512 if signer.algorithm is Algorithm.PS256 else 0)
    if timestamp:
        size += _TIMESTAMP_RESERVE
    return (2 * size + 1023) // 1024 * 1024


_hanko_signers: dict[int, tuple[Signer, bytes, signers.Signer]] = {}


def _pyhanko_signer(signer: Signer) -> signers.Signer:
    """Wrap an elicense :class:`Signer` as a pyHanko signer (no private key leaves it).

    Built once per signer object (~1.5 ms of certificate parsing, 10 % of a bare sign); keyed by
    identity and certificate, the entry holds the signer so its id cannot be reused.
    """
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    hit = _hanko_signers.get(id(signer))
    if hit is not None and hit[0] is signer and hit[1] == der:
        return hit[2]
    wrapped = _make_pyhanko_signer(signer)
    if len(_hanko_signers) >= 64:
        _hanko_signers.clear()
    _hanko_signers[id(signer)] = (signer, der, wrapped)
    return wrapped


def _make_pyhanko_signer(signer: Signer) -> signers.Signer:

    if signer.algorithm not in (Algorithm.ES256, Algorithm.EDDSA, Algorithm.PS256):
        raise UsageError(
            f"a PDF cannot be signed with {signer.algorithm.label} (PAdES readers know no SM2): "
            "an SM2 home issues OFD files (--format ofd / issue --ofd)",
            message_zh=f"PDF 无法用 {signer.algorithm.label} 签名（PAdES 阅读器不支持 SM2）：SM2 签发方请输出 OFD"
            "（--format ofd / issue --ofd）",
        )
    mechanism = {
        Algorithm.ES256: algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        Algorithm.EDDSA: algos.SignedDigestAlgorithm({"algorithm": "ed25519"}),
        Algorithm.PS256: algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": {"algorithm": "sha256"},
                        },
                        "salt_length": 32,
                    }
                ),
            }
        ),
    }[signer.algorithm]

    class _ElicenseCmsSigner(signers.Signer):
        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if digest_algorithm != "sha256" and signer.algorithm is not Algorithm.EDDSA:
                raise CryptoError(f"unexpected digest algorithm {digest_algorithm}")
            return signer.sign(data)

    certs = [_asn1_cert(c) for c in (signer.certificate, *signer.chain)]
    wrapped = _ElicenseCmsSigner(
        signing_cert=certs[0],
        # the chain only: pyHanko embeds signing_cert and the registry, so the signer would appear twice
        # (endesive refuses "multiple signer certificates with the same serial")
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
        signature_mechanism=mechanism,
        embed_roots=False,
    )
    wrapped.signed_attr_prov_spec = _PadesSignedAttributes(certs[0])
    return wrapped


class _SigningCertificateV2(attributes.SigningCertificateV2Provider):
    """pyHanko's signing-certificate-v2 attribute of one certificate, made once and kept as parsed DER.

    pyHanko builds this value for every signature out of freshly constructed asn1crypto objects, and
    asn1crypto serialises a constructed value again on every dump of anything that contains it: a PAdES
    signature dumps its signed attributes several times, and that was ~70 % of a bare pyHanko sign
    (11.6 → 3.6 ms a PDF, ``benchmarks/bench_batch.py``). The value read back from its own DER is the
    same bytes and serialises once (``tests/pdf/test_perf_paths.py`` compares the signed attributes with
    the ones pyHanko's own spec makes).
    """

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        super().__init__(signing_cert)
        self._value = tsp.SigningCertificateV2.load(as_signing_certificate_v2(signing_cert).dump())

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return self._value


class _PadesSignedAttributes(attributes.SignedAttributeProviderSpec):
    """The signed attributes of pyHanko's PAdES default (``CAdESSignedAttributeProviderSpec`` with
    ``is_pades`` and no CAdES extras): signing-certificate-v2; pyHanko itself adds content-type and
    message-digest. A spec is fixed on its signer, so this one holds only because the pyHanko signers
    made here sign nothing but :func:`sign_pdf`'s PAdES signatures, which set no ``cades_signed_attr_spec``
    (no signing-time attribute either: PAdES forbids it)."""

    def __init__(self, signing_cert: asn1_x509.Certificate) -> None:
        self._signing_certificate = _SigningCertificateV2(signing_cert)

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[attributes.CMSAttributeProvider]:
        yield self._signing_certificate


def sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    at: dt.datetime,
    seal_box: tuple[float, float, float, float],
    page: int,
    seal_png: bytes,
    options: PdfSigningOptions | None = None,
    location: str | None = None,
) -> bytes:
    """Certify ``pdf`` (DocMDP P=1) with a visible seal signature; returns the signed PDF."""

    when = require_utc(at, "at")
    options = options or PdfSigningOptions()
    level = pades_level(options)
    timestamper = _timestamper(options.timestamper)
    timestamp = timestamper is not None
    lt = level in ("B-LT", "B-LTA")
    validation_context = None
    if lt:
        validation_context = options.validation_context or _validation_context(options, signer, when)
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=options.reason,
        location=location or options.location,
        embed_validation_info=lt,
        validation_context=validation_context,
        use_pades_lta=False,  # B-LTA: the document timestamp is added by extend_pdf below
    )
    style = StaticStampStyle(background=_seal_image(seal_png), border_width=0, background_opacity=1.0)
    x1, y1, x2, y2 = (round(v) for v in seal_box)

    class _TimedPdfSigner(signers.PdfSigner):
        """Signs with the caller's time (``at``), never the wall clock."""

        def init_signing_session(
            self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
        ) -> PdfSigningSession:
            session = super().init_signing_session(pdf_out, existing_fields_only)
            session.system_time = when
            return session

        def register_extensions(self, pdf_out: BasePdfFileWriter, *, md_algorithm: str) -> None:
            """PAdES's ESIC extension only: pyHanko would also register ISO/TS 32002 for ECDSA P-256,
            which declares PDF 2.0 (catalogue ``/Version /2.0``) and breaks PDF/A-3 (PDF 1.7)."""
            _register_esic(pdf_out)

    pdf_signer = _TimedPdfSigner(
        meta,
        signer=_pyhanko_signer(signer),
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD, on_page=page, box=(x1, y1, x2, y2)),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
    out = io.BytesIO()
    try:
        pdf_signer.sign_pdf(writer, output=out, bytes_reserved=bytes_to_reserve(signer, timestamp=timestamp))
    except Exception as exc:
        if lt and type(exc).__name__ in (
            "PathValidationError",
            "InsufficientRevinfoError",
            "PathBuildingError",
            "RevokedError",
            "ValidationError",
            "SigningError",
        ):
            raise CryptoError(
                f"B-LT: the signer does not validate at signing time with the given CRLs: {exc}",
                message_zh="B-LT：签名证书在签名时无法通过吊销检查",
            ) from exc
        if timestamp and type(exc).__name__ in ("TimestampRequestError", "SigningError"):
            raise CryptoError(f"timestamp authority failed: {exc}", message_zh="时间戳服务失败") from exc
        raise
    if level == "B-LTA":  # fresh CRLs of the whole chain in the DSS, then a document timestamp over it
        return extend_pdf(
            out.getvalue(),
            timestamper=timestamper,
            crls=options.crls,
            trust_roots=options.trust_roots,
            at=options.validation_time or when,
            other_certs=tuple(signer.chain),
        )
    return out.getvalue()


def _timestamper(given: TimeStamper | LocalTSA | None) -> TimeStamper | None:
    """pyHanko's timestamper for ``given``: a LocalTSA's own (its tokens carry its current time)."""
    if isinstance(given, LocalTSA):
        stamper: TimeStamper = given.timestamper()
        return stamper
    return given


def _validation_context(options: PdfSigningOptions, signer: Signer, when: dt.datetime) -> ValidationContext:
    """The B-LT signing-time validation context: explicit roots and CRLs, no fetching, hard-fail."""

    return ValidationContext(
        trust_roots=[_asn1_cert(c) for c in options.trust_roots],
        other_certs=[_asn1_cert(c) for c in signer.chain],
        crls=[c.public_bytes(serialization.Encoding.DER) for c in options.crls],
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=require_utc(options.validation_time, "validation_time") if options.validation_time else when,
    )


def prepare_signer(signer: Signer) -> None:
    """Build the pyHanko wrapper of ``signer`` now (a worker does it once, before its first PDF)."""
    _pyhanko_signer(signer)


def prepare_options(options: PdfSigningOptions, signer: Signer, authority: str) -> PdfSigningOptions:
    """``options`` with what every PDF of a job shares made once: the seal image of ``authority``
    (unless given) and, for B-LT/B-LTA, the validation context (its CRLs parsed once, not per PDF)."""
    seal = options.seal_png or _seal_for(authority, options.seal_name)
    _seal_image(seal)  # encode the XObject streams now
    context = options.validation_context
    if context is None and options.validation_time is not None and pades_level(options) in ("B-LT", "B-LTA"):
        context = _validation_context(options, signer, options.validation_time)
    return replace(options, seal_png=seal, validation_context=context)


def _register_esic(pdf_out: BasePdfFileWriter) -> None:

    pdf_out.ensure_output_version(version=(1, 7))  # type: ignore[no-untyped-call]
    pdf_out.register_extension(ESIC_EXTENSION_1)


def pades_level(options: PdfSigningOptions) -> str:
    """The PAdES baseline level ``options`` produce; a level that asks for more than given is an error."""
    implied = "B-LT" if options.crls else "B-T" if options.timestamper is not None else "B-B"
    level = options.level or implied
    if level not in PADES_LEVELS:
        raise UsageError(f"unknown PAdES level {level!r} (B-B, B-T, B-LT or B-LTA)")
    if level != "B-B" and options.timestamper is None:
        raise UsageError(
            f"PAdES {level} needs a timestamp authority (a TSA URL or an in-process TSA)",
            message_zh=f"PAdES {level} 需要时间戳服务",
        )
    if level in ("B-LT", "B-LTA") and not (options.crls and options.trust_roots):
        raise UsageError(
            f"PAdES {level} needs the CRLs of the signer's chain and the trust roots",
            message_zh="PAdES B-LT 需要签名证书链的吊销列表和信任根",
        )
    if level == "B-LTA" and implied == "B-LT":
        return level
    if level != implied and level == "B-B":
        raise UsageError("a timestamp authority or CRLs were given for a B-B signature")
    if level == "B-T" and options.crls:
        raise UsageError("CRLs were given for a B-T signature (use B-LT)")
    return level


def extend_pdf(
    pdf: bytes,
    *,
    timestamper: TimeStamper | LocalTSA | None,
    crls: tuple[x509.CertificateRevocationList, ...],
    trust_roots: tuple[x509.Certificate, ...],
    at: dt.datetime,
    other_certs: tuple[x509.Certificate, ...] = (),
) -> bytes:
    """Renew a signed PDF for the archive (PAdES B-LTA): fresh CRLs in the DSS and a new document timestamp.

    ``crls`` must be current at ``at`` (the time the new timestamp is taken); the last
    timestamp already in the file is validated at ``at`` with them first (hard-fail, no
    fetching), so a chain that no longer validates is not stamped over. Incremental
    update only: every earlier signature and timestamp stays intact.
    """

    when = require_utc(at, "at")
    timestamper = _timestamper(timestamper)
    if timestamper is None or not crls or not trust_roots:
        raise UsageError("extending a PDF needs a timestamp authority, fresh CRLs and the trust roots")
    der_crls = [c.public_bytes(serialization.Encoding.DER) for c in crls]
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        signatures = reader.embedded_regular_signatures
    except Exception as exc:
        raise UsageError(f"not a readable PDF: {exc}", message_zh="无法读取的 PDF") from exc
    if not signatures:
        raise UsageError("the PDF has no signature to extend", message_zh="PDF 中没有可续期的签名")
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(  # fresh revocation data for the issuer's signature
        out,
        signatures[0].pkcs7_content,
        certs=[_asn1_cert(c) for c in other_certs],
        crls=[asn1_crl.CertificateList.load(d) for d in der_crls],
    )
    context = ValidationContext(
        trust_roots=[_asn1_cert(c) for c in trust_roots],
        other_certs=[_asn1_cert(c) for c in other_certs],
        crls=der_crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=when,
    )
    result = io.BytesIO()
    try:
        PdfTimeStamper(timestamper).update_archival_timestamp_chain(
            PdfFileReader(out, strict=True), context, in_place=False, output=result
        )
    except Exception as exc:
        if type(exc).__name__ in (
            "PathValidationError",
            "InsufficientRevinfoError",
            "PathBuildingError",
            "RevokedError",
            "ValidationError",
            "SigningError",
            "TimestampRequestError",
        ):
            raise CryptoError(
                f"cannot extend: the last timestamp does not validate now, or the TSA failed: {exc}",
                message_zh="无法续期：最后一个时间戳验证失败或时间戳服务失败",
            ) from exc
        raise
    return result.getvalue()


_encoded_seals: dict[bytes, tuple[int, int, str, bytes, bytes | None]] = {}


def _seal_image(seal_png: bytes) -> PdfImage:
    """The seal as a pyHanko image whose XObject streams are Flate-encoded once per process.

    pyHanko's ``PdfImage`` decodes the PNG and recompresses colour and alpha on
    every signature (~12 ms for a 42 mm seal at 300 dpi); the bytes never change.
    """

    enc = _encoded_seals.get(seal_png)
    if enc is None:
        image: Image.Image = Image.open(io.BytesIO(seal_png))
        image.load()
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA")
        alpha = zlib.compress(image.getchannel("A").tobytes()) if image.mode.endswith("A") else None
        base = image.convert(image.mode.removesuffix("A"))
        enc = (image.width, image.height, base.mode, zlib.compress(base.tobytes()), alpha)
        if len(_encoded_seals) > 64:
            _encoded_seals.clear()
        _encoded_seals[seal_png] = enc
    width, height, mode, colour, alpha = enc

    def stream(space: str, data: bytes) -> generic.StreamObject:
        name = generic.NameObject
        return generic.StreamObject(
            {
                name("/Type"): name("/XObject"),
                name("/Subtype"): name("/Image"),
                name("/Width"): generic.NumberObject(width),  # type: ignore[no-untyped-call]
                name("/Height"): generic.NumberObject(height),  # type: ignore[no-untyped-call]
                name("/ColorSpace"): name(space),
                name("/BitsPerComponent"): generic.NumberObject(8),  # type: ignore[no-untyped-call]
                name("/Filter"): name("/FlateDecode"),
            },
            encoded_data=data,
        )

    class _EncodedImage(PdfImage):
        @property
        def image_ref(self) -> generic.IndirectObject:
            writer = self.writer
            assert writer is not None
            ref = self._image_ref
            if ref is None or ref.get_pdf_handler() is not writer:  # type: ignore[no-untyped-call]
                xobject = stream("/DeviceGray" if mode == "L" else "/DeviceRGB", colour)
                if alpha is not None:
                    xobject[generic.NameObject("/SMask")] = writer.add_object(stream("/DeviceGray", alpha))
                ref = self._image_ref = writer.add_object(xobject)
            return ref

    return _EncodedImage(Image.new("L", (width, height)), name="Seal")


def seal_and_sign(
    issued: IssuedLicence,
    signer: Signer,
    *,
    at: dt.datetime | None = None,
    options: PdfSigningOptions | None = None,
    rendered: RenderedLicence | None = None,
) -> bytes:
    """Render (unless given), seal and sign ``issued``: the licence PDF a holder receives."""

    options = options or PdfSigningOptions()
    rendered = rendered or render_licence(issued)
    seal = options.seal_png or _seal_for(issued.licence.issuer.name, options.seal_name)
    return sign_pdf(
        rendered.pdf,
        signer,
        at=at or issued.signed_at,
        seal_box=rendered.seal_box,
        page=rendered.page,
        seal_png=seal,
        options=options,
        location=options.location or issued.licence.issuer.area_code,
    )


_seal_cache: dict[tuple[str, str], bytes] = {}


def _seal_for(authority: str, seal_name: str) -> bytes:
    """The authority's round seal at 42 mm / 300 dpi, drawn once per process."""

    key = (authority, seal_name)
    png = _seal_cache.get(key)
    if png is None:
        png = render_seal_png(SealSpec(authority_name=authority, seal_name=seal_name, dpi=300))
        if len(_seal_cache) > 64:
            _seal_cache.clear()
        _seal_cache[key] = png
    return png
