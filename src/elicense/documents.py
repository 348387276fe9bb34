"""Licence documents (signed PDFs, sealed OFDs) made from an issuer home: the layer above the carriers.

The carriers (:mod:`elicense.pdf`, :mod:`elicense.ofd`) render and sign one licence with
what they are given; this module gathers what they need from a :class:`~elicense.home.Home`
(the authority's signer and seal, its TSA and CRLs) so the carriers never look a home up.

Bulk issuance (:func:`elicense.registry.batch.run_batch`) takes a :class:`PdfDocuments` or
:class:`OfdDocuments`: a frozen, picklable description that each worker process opens
**once** into a writer (:meth:`PdfDocuments.open_writer`), which then keeps the unlocked
signer, the pyHanko signer wrapper, the seal image, the TSA client and the CRLs for every
document of the job. Files are named ``<licence id>.pdf`` / ``.ofd``, written atomically
after the registry commit; an existing file is kept, so a re-run writes exactly the
missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from cryptography import x509

from elicense.crypto.keys import Sm2Signer, atomic_write, decrypt_private_key
from elicense.errors import UsageError
from elicense.home import AuthorityEntry, Home
from elicense.model import require_utc
from elicense.pdf import PADES_LEVELS
from elicense.pdf.options import PdfSigningOptions
from elicense.pdf.tsa import LocalTSA
from elicense.processes import OFD_MODULES, PDF_MODULES
from elicense.seal import SEALS_SECTION

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper

    from elicense.crypto.algorithms import PrivateKey
    from elicense.crypto.keys import Signer
    from elicense.issue import IssuedLicence

__all__ = [
    "CA_CRL_VALIDITY",
    "ROOT_CRL_VALIDITY",
    "OfdDocuments",
    "OfdWriter",
    "PdfDocuments",
    "PdfWriter",
    "check_pdf_level",
    "extend_for_home",
    "issue_ofd",
    "options_for_home",
    "require_seals",
    "root_material",
    "seal_material",
]

CA_CRL_VALIDITY = dt.timedelta(days=35)
"""Validity of a regional CA's CRL embedded for B-LT/B-LTA. pyHanko's AdES past-signature validation
(ETSI EN 319 102-1 §5.6.2.4) does not rescue an expired leaf CRL by the archive timestamp's proof of
existence here (REVOCATION_OUT_OF_BOUNDS_NO_POE), so the embedded CRLs must outlive the interval at which
archives run ``elicense pdf extend`` (monthly): 7-day CRLs fail pyHanko's validation a week later."""
ROOT_CRL_VALIDITY = dt.timedelta(days=365)
"""Validity of the root's CRL (an ARL: the root signs rarely). It covers the TSA certificate, so the
last archive timestamp of a B-LTA PDF stays checkable offline long after the CAs' CRLs expired."""


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- PDF: TSA and CRLs of a home


def check_pdf_level(pdf_dir: Path | None, level: str, tsa_url: str | None) -> None:
    """``--pdf-level`` / ``--tsa-url`` only make sense with PDFs, and for a known level."""
    if level not in PADES_LEVELS:
        raise UsageError(f"unknown PDF level {level!r} (known: {', '.join(PADES_LEVELS)})")
    if pdf_dir is None and (level != "B-B" or tsa_url):
        raise UsageError("--pdf-level / --tsa-url need --pdf DIR", message_zh="--pdf-level / --tsa-url 须与 --pdf 同用")
    if tsa_url and level == "B-B":
        raise UsageError("--tsa-url needs --pdf-level B-T or B-LT", message_zh="--tsa-url 须配合 B-T 或 B-LT")


def root_material(home: Home) -> tuple[x509.Certificate, PrivateKey]:
    """The home's first root and its key (demo homes keep it in ``keys/``): what certifies a LocalTSA."""
    rel = home.roots[0]
    cert = home.certificates(rel)[0]
    key_rel = home.root_key_path(rel)
    if key_rel is None or not (home.path / key_rel).exists():
        raise UsageError(
            "this home has no root key: give --tsa-url for B-T/B-LT",
            message_zh="该目录没有根证书私钥，请用 --tsa-url 指定时间戳服务",
        )
    key = decrypt_private_key((home.path / key_rel).read_bytes(), home.passphrase())
    return cert, key


def _ltv_crls(home: Home, now: dt.datetime) -> tuple[x509.CertificateRevocationList, ...]:
    """Fresh CRLs of every CA of the home whose key it holds: the roots' for a year, the CAs' for 35 days."""
    issued = now - dt.timedelta(minutes=1)
    roots = {c.subject for rel in home.roots for c in home.certificates(rel)}
    short = [c for c in home.crls(issued, CA_CRL_VALIDITY, 1) if c.issuer not in roots]
    long = [c for c in home.crls(issued, ROOT_CRL_VALIDITY, 1) if c.issuer in roots]
    return tuple(long + short)


def _timestamper_for(
    home: Home, at: dt.datetime, tsa_url: str | None, tsa: LocalTSA | None
) -> tuple[TimeStamper, dt.datetime]:
    """A timestamper (HTTP TSA at ``tsa_url``, else ``tsa``, else a LocalTSA of the home's root) and its time."""
    if tsa_url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(tsa_url, timeout=10), _wall_clock()
    if tsa is None:
        cert, key = root_material(home)
        now = _wall_clock()
        tsa = LocalTSA.create(
            cert,
            key,
            not_before=min(at, now) - dt.timedelta(days=1),
            not_after=min(now + dt.timedelta(days=3650), cert.not_valid_after_utc),
            publication_base=home.publication_base(),
        )
    return tsa.timestamper(), require_utc(tsa.clock(), "clock()")


def options_for_home(
    home: Home,
    level: str,
    *,
    at: dt.datetime,
    seal_name: str,
    tsa_url: str | None = None,
    tsa: LocalTSA | None = None,
) -> PdfSigningOptions:
    """Signing options for ``level`` from an issuer home (CRLs of its CAs for B-LT/B-LTA).

    Without ``tsa_url`` or ``tsa``, B-T/B-LT/B-LTA use a :class:`~elicense.pdf.tsa.LocalTSA` certified
    by the home's root (needs the root key: demo and offline homes). Timestamps carry the TSA's
    current time; the CRLs and the signing-time validation of B-LT are made at that time
    too (the time the validation data is gathered), not at the licence's signing time ``at``.
    """
    if level not in PADES_LEVELS:
        raise UsageError(f"unknown PDF level {level!r} (known: {', '.join(PADES_LEVELS)})")
    if level == "B-B":
        if tsa_url:
            raise UsageError("--tsa-url needs --pdf-level B-T, B-LT or B-LTA")
        return PdfSigningOptions(seal_name=seal_name, level="B-B")
    at = require_utc(at, "at")
    timestamper, now = _timestamper_for(home, at, tsa_url, tsa)
    if level == "B-T":
        return PdfSigningOptions(seal_name=seal_name, level="B-T", timestamper=timestamper)
    try:
        crls = _ltv_crls(home, now)
    except Exception as exc:
        raise UsageError(f"cannot build the CRLs for B-LT: {exc}") from exc
    if not crls:
        raise UsageError(
            "B-LT needs the CRLs of the home's CAs, and this home holds no CA key",
            message_zh="B-LT 需要本机构 CA 的证书吊销列表",
        )
    roots = tuple(c for rel in home.roots for c in home.certificates(rel))
    return PdfSigningOptions(
        seal_name=seal_name, level=level, timestamper=timestamper, crls=crls, trust_roots=roots, validation_time=now
    )


def extend_for_home(pdf: bytes, home: Home, *, tsa_url: str | None = None, tsa: LocalTSA | None = None) -> bytes:
    """Add fresh CRLs of the home's CAs and a new archive timestamp to a signed licence PDF (B-LTA renewal)."""
    from elicense.pdf.sign import extend_pdf

    timestamper, now = _timestamper_for(home, _wall_clock(), tsa_url, tsa)
    try:
        crls = _ltv_crls(home, now)
    except Exception as exc:
        raise UsageError(f"cannot build the CRLs of the home's CAs: {exc}") from exc
    if not crls:
        raise UsageError(
            "extending needs the CRLs of the home's CAs, and this home holds no CA key",
            message_zh="续期需要本机构 CA 的证书吊销列表",
        )
    roots = tuple(c for rel in home.roots for c in home.certificates(rel))
    cas = tuple(home.certificates(r.ca_cert)[0] for r in home.regions)
    return extend_pdf(pdf, timestamper=timestamper, crls=crls, trust_roots=roots, at=now, other_certs=cas)


# --------------------------------------------------------------------------- OFD: seals of an SM2 home


def require_seals(home: Home) -> None:
    """Refuse early (before anything is issued) when ``home`` has no GB/T 38540 seals: OFDs need an SM2 home."""
    section = home.extra.get(SEALS_SECTION)
    if not (isinstance(section, dict) and section.get("seals")):
        raise UsageError(
            f"OFD licences need GB/T 38540 seals, and {home.path} has none (an SM2 home: elicense demo --alg sm2)",
            message_zh=f"OFD 证照需要电子印章，{home.path} 中没有（SM2 签发目录：elicense demo --alg sm2）",
        )


def _seal_and_signer(home: Home, entry: AuthorityEntry) -> tuple[bytes, Sm2Signer]:
    section = home.extra.get(SEALS_SECTION)
    rel = section.get("seals", {}).get(entry.code) if isinstance(section, dict) else None
    if not rel:
        raise UsageError(
            f"{entry.name} has no GB/T 38540 seal in {home.path}: OFD licences need an SM2 home "
            "(elicense demo --alg sm2)",
            message_zh=f"{entry.name} 没有电子印章：OFD 证照需要 SM2 签发目录（elicense demo --alg sm2）",
        )
    signer = home.signer(entry)
    if not isinstance(signer, Sm2Signer):
        raise UsageError(f"{entry.name} does not sign with SM2", message_zh=f"{entry.name} 不是 SM2 签名密钥")
    try:
        seal = (home.path / rel).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the seal {rel}: {exc.strerror}", message_zh=f"无法读取电子印章 {rel}") from exc
    return seal, signer


def seal_material(home: Home, entry: AuthorityEntry, *, at: dt.datetime) -> tuple[bytes, Sm2Signer, Sequence[bytes]]:
    """The authority's ``SES_Seal``, its SM2 signer, and CRLs of its chain fresh at ``at`` (revocation evidence)."""
    seal, signer = _seal_and_signer(home, entry)
    return seal, signer, home.entry_crls(entry, at)


def issue_ofd(home: Home, issued: IssuedLicence, *, font_path: str | Path | None = None) -> bytes:
    """The sealed OFD of ``issued``, sealed at its signing time by its issuer's seal."""
    from elicense.ofd.seal import seal_licence_ofd  # the OFD carrier (fontTools, lxml): ~0.13 s a PDF job skips
    from elicense.ofd.write import build_licence_ofd

    entry = home.authority(issued.licence.issuer.code)
    seal, signer, crls = seal_material(home, entry, at=issued.signed_at)
    doc = build_licence_ofd(issued, font_path=font_path)
    return seal_licence_ofd(doc, seal=seal, signer=signer, at=issued.signed_at, crls=crls)


# --------------------------------------------------------------------------- writers for bulk issuance


def _own(issued: IssuedLicence, entry: AuthorityEntry) -> None:
    if issued.licence.issuer.code != entry.code:
        raise UsageError(
            f"licence {issued.licence.id} was issued by {issued.licence.issuer.code}, not by {entry.code}",
            message_zh="证照的发证机关与文档签发机关不一致",
        )


@dataclass(frozen=True)
class PdfDocuments:
    """PDFs of one authority's licences into ``outdir`` (picklable: sent to each worker, opened once there)."""

    kind: ClassVar[str] = "pdf"
    preload: ClassVar[tuple[str, ...]] = PDF_MODULES
    home: Home
    """The issuer home (its keys are unlocked in the worker, never sent)."""
    authority_code: str
    """The issuing authority (whose key signs and whose seal is drawn)."""
    outdir: Path
    """Where ``<licence id>.pdf`` go."""
    level: str = "B-B"
    """PAdES level (``B-B``, ``B-T``, ``B-LT``, ``B-LTA``)."""
    tsa_url: str | None = None
    """RFC 3161 TSA for B-T and above (``None``: an in-process TSA certified by the home's root)."""
    at: dt.datetime = field(default_factory=_wall_clock)
    """The job's time (the LocalTSA's certificate starts a day before it)."""

    def __post_init__(self) -> None:
        check_pdf_level(self.outdir, self.level, self.tsa_url)

    def open_writer(self) -> PdfWriter:
        """The writer of this worker: signer, options (TSA, CRLs, validation context) and seal, made once."""
        return PdfWriter(self)


class _FileWriter:
    """What a PDF and an OFD writer share: one file per licence in ``outdir``, written once, atomically."""

    kind: ClassVar[str]
    outdir: Path
    entry: AuthorityEntry

    def path(self, licence_id: str) -> Path:
        """Where the document of ``licence_id`` goes."""
        return self.outdir / f"{licence_id}.{self.kind}"

    def missing(self, licence_id: str) -> bool:
        """Whether the document of ``licence_id`` is still to be written."""
        return not self.path(licence_id).exists()

    def write(self, issued: IssuedLicence) -> bool:
        """Write the document of ``issued`` unless it exists; ``True`` if written."""
        path = self.path(str(issued.licence.id))
        if path.exists():
            return False
        _own(issued, self.entry)
        atomic_write(path, self._document(issued))
        return True

    def _document(self, issued: IssuedLicence) -> bytes:
        raise NotImplementedError


class PdfWriter(_FileWriter):
    """Renders, seals and signs licence PDFs with what one worker made once (see :class:`PdfDocuments`)."""

    kind: ClassVar[str] = "pdf"

    def __init__(self, spec: PdfDocuments) -> None:
        from elicense.pdf import sign  # pyHanko and fpdf2: only in a process that writes PDFs

        self._seal_and_sign = sign.seal_and_sign
        self.outdir = spec.outdir
        self.entry = spec.home.authority(spec.authority_code)
        self.signer: Signer = spec.home.signer(self.entry)
        options = options_for_home(
            spec.home, spec.level, at=spec.at, seal_name=self.entry.seal_name, tsa_url=spec.tsa_url
        )
        # the pyHanko signer, the seal image and the B-LT validation context, once per worker
        sign.prepare_signer(self.signer)
        self.options = sign.prepare_options(options, self.signer, self.entry.name)

    def _document(self, issued: IssuedLicence) -> bytes:
        return self._seal_and_sign(issued, self.signer, options=self.options)


@dataclass(frozen=True)
class OfdDocuments:
    """Sealed OFDs of one SM2 authority's licences into ``outdir`` (picklable, opened once per worker)."""

    kind: ClassVar[str] = "ofd"
    preload: ClassVar[tuple[str, ...]] = OFD_MODULES
    home: Home
    """The SM2 issuer home (with GB/T 38540 seals)."""
    authority_code: str
    """The issuing authority (whose seal and SM2 key seal the OFDs)."""
    outdir: Path
    """Where ``<licence id>.ofd`` go."""
    font_path: Path | None = None
    """Font instead of the packaged Noto Serif CJK SC subset."""

    def __post_init__(self) -> None:
        require_seals(self.home)

    def open_writer(self) -> OfdWriter:
        """The writer of this worker: seal, SM2 signer and CRLs (per signing time), made once."""
        return OfdWriter(self)


class OfdWriter(_FileWriter):
    """Lays out and seals licence OFDs with what one worker made once (see :class:`OfdDocuments`)."""

    kind: ClassVar[str] = "ofd"
    _MAX_CRL_TIMES = 16

    def __init__(self, spec: OfdDocuments) -> None:
        self.outdir = spec.outdir
        self.home = spec.home
        self.font_path = spec.font_path
        self.entry = spec.home.authority(spec.authority_code)
        self.seal, self.signer = _seal_and_signer(spec.home, self.entry)
        self._crls: dict[dt.datetime, Sequence[bytes]] = {}

    def _crls_at(self, at: dt.datetime) -> Sequence[bytes]:
        """CRLs fresh at ``at`` (a job's licences share one signing time: made once, not per OFD)."""
        crls = self._crls.get(at)
        if crls is None:
            if len(self._crls) >= self._MAX_CRL_TIMES:
                self._crls.clear()
            crls = self._crls[at] = self.home.entry_crls(self.entry, at)
        return crls

    def _document(self, issued: IssuedLicence) -> bytes:
        from elicense.ofd.seal import seal_licence_ofd  # imported by the first OFD (see issue_ofd)
        from elicense.ofd.write import build_licence_ofd

        doc = build_licence_ofd(issued, font_path=self.font_path)
        return seal_licence_ofd(
            doc, seal=self.seal, signer=self.signer, at=issued.signed_at, crls=self._crls_at(issued.signed_at)
        )
