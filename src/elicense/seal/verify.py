"""Verifying GB/T 38540 seal signatures and seals: the checks of GB/T 38540 §8 and GB/T 33841 (验章).

The format (parsing, signed bytes, deviations, making and signing seals) is :mod:`elicense.seal.ses`;
this module runs the checks over it in order: signature value → seal maker's signature → seal
validity at the signing time → signer in the seal's certificate list → both certificate chains →
revocation → time stamp (:mod:`elicense.seal.timestamp`) → data hash. ``specs/seal.md`` is normative.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from asn1crypto import x509 as a509

from elicense.crypto.algorithms import Algorithm
from elicense.crypto.sm2 import Sm2Crl, Sm2PublicKey
from elicense.errors import AlgorithmNotAllowed, CryptoError, InputError, TrustError
from elicense.model import require_utc
from elicense.seal.certs import CertView, Chain, build_chain, cert_of
from elicense.seal.ses import (
    CLOCK_SKEW,
    OID_EKU_SEAL_MAKING,
    OID_SM2_SIGN,
    OID_SM2_WITH_SM3,
    Seal,
    SealMaker,
    SealSignature,
    SesContext,
    SesFormatError,
    SesRun,
    SesTrust,
    SesVerification,
    SesVersionUnsupported,
    cert_devs,
    cert_in_seal,
    cert_views,
    der_certificate,
    kind_of,
    parse_seal,
    parse_signature,
    sm2_verify,
    sm3_digest,
)
from elicense.seal.timestamp import check_all
from elicense.seal.trustlist import SECTION, load_policy, merge, policy_from_bytes
from elicense.verdict import reasons as r
from elicense.verdict.reasons import (
    SES_CERTIFICATE_REVOKED,
    SES_CERTIFICATE_UNREADABLE,
    SES_CERTIFICATE_UNTRUSTED,
    SES_DOCUMENT_MISMATCH,
    SES_DOCUMENT_MISSING,
    SES_MALFORMED,
    SES_REVOCATION_UNKNOWN,
    SES_SEAL_EXPIRED,
    SES_SEAL_MAKER_UNTRUSTED,
    SES_SEAL_NOT_YET_VALID,
    SES_SEAL_SIGNATURE_INVALID,
    SES_SIGNER_NOT_IN_SEAL,
    SES_UNKNOWN_CRITICAL,
    SES_VERSION_UNSUPPORTED,
    Status,
)
from elicense.verdict.result import Check, Reason, VerificationResult

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.seal.ses import CertLike
    from elicense.trust.bundle import Bundle
    from elicense.trust.store import TrustStore
    from elicense.verdict.context import LicenceVerifier


def _maker_user_ids(trust: SesTrust, vid: str) -> tuple[bytes, ...]:
    return tuple(m.user_id for m in trust.seal_makers if m.user_id and (not m.vids or vid in m.vids))


def _unknown_critical(ctx: SesContext) -> str:
    codes = ("ses_dev_critical_ext_data", "ses_dev_critical_extension")
    return "; ".join(f"{x.where}: {x.detail}" for x in ctx.devs if x.code in codes)


def signer_chain(cert: CertView, trust: SesTrust) -> Chain:
    """The signer's path to a trusted SM2 anchor (TrustError if none)."""
    return build_chain(cert, anchors=cert_views(trust.roots), intermediates=cert_views(trust.intermediates))


def maker_chain(cert: CertView, vid: str, trust: SesTrust) -> tuple[Chain, str]:
    """The seal maker's path and why it is trusted: a pinned maker, a seal CA, or elicense's EKU under a root."""
    entries = [m for m in trust.seal_makers if not m.vids or vid in m.vids]
    for entry in entries:
        if entry.role == "maker" and entry.certificate == cert.der:
            return build_chain(cert, anchors=[cert]), f"pinned seal maker {entry.name!r}"
    cas: list[tuple[SealMaker, CertView]] = []
    for entry in entries:
        if entry.role == "ca":
            try:
                cas.append((entry, cert_of(entry.certificate)))
            except CryptoError:
                continue  # an unreadable entry trusts nothing
    inter = cert_views(trust.intermediates)
    for entry, ca in cas:
        try:
            return build_chain(cert, anchors=[ca], intermediates=inter), f"seal CA {entry.name!r}"
        except TrustError:
            continue
    chain = build_chain(cert, anchors=cert_views(trust.roots), intermediates=inter, leaf_eku=OID_EKU_SEAL_MAKING)
    return chain, "seal-making EKU under a trusted root"


def _revocation(chain: Chain, when: dt.datetime, crls: Sequence[Sm2Crl], what: str) -> list[Reason]:
    for child, issuer in zip(chain.certs[:-1], chain.certs[1:], strict=True):
        usable = []
        for crl in crls:
            if not crl.covers(when):
                continue
            try:
                key = issuer.public_key()
                assert isinstance(key, Sm2PublicKey)
                same = crl.issuer.public_bytes() == issuer.subject_der or _name_eq(crl.issuer, issuer)
            except (CryptoError, ValueError):
                continue
            if same and key.verify(crl.signature, crl.tbs):
                usable.append(crl)
        if not usable:
            return [Reason.of(SES_REVOCATION_UNKNOWN, f"{what} serial {child.serial:x}")]
        for crl in usable:
            revoked_at = crl.revoked.get(child.serial)
            if revoked_at is not None and revoked_at <= when:
                detail = f"{what} serial {child.serial:x} at {revoked_at.isoformat()}"
                return [Reason.of(SES_CERTIFICATE_REVOKED, detail)]
    return []


def _name_eq(name: x509.Name, issuer: CertView) -> bool:
    return bool(a509.Name.load(name.public_bytes()) == a509.Name.load(issuer.subject_der))


def _load_crls(ders: Iterable[bytes]) -> list[Sm2Crl]:
    out: list[Sm2Crl] = []
    for der in ders:
        try:
            out.append(Sm2Crl.load(der))
        except CryptoError:
            continue  # unusable evidence is no evidence; it cannot make anything VALID
    return out


def _algorithm_ok(oid: str, ctx: SesContext, where: str) -> bool:
    """SM2-with-SM3 is the only signature algorithm of SES (every version); some producers name
    it by the SM2 OIDs (``sm2-1``, the curve), which in SES can only mean the same thing."""
    if oid == OID_SM2_WITH_SM3:
        return True
    if oid in (OID_SM2_SIGN, "1.2.156.10197.1.301"):
        ctx.dev("ses_dev_algorithm_oid", where, oid)
        return True
    return False


def verify_ses(
    signature_der: bytes,
    *,
    data_hash: bytes | None,
    trust: SesTrust,
    at: dt.datetime,
    algorithms: AlgorithmPolicy | None = None,
) -> SesVerification:
    """Verify an ``SES_Signature`` (v1/v4/v5) in the order of GB/T 38540 / GB/T 33841.

    ``data_hash`` is the digest the caller computed over what was signed (SM3 of the OFD's
    ``Signature.xml``; None: not available → INDETERMINATE). ``at`` is the verification time.
    ``algorithms`` is the caller's allow-list (SM2 must be on it when given). Never raises for
    a failed check; a malformed input is an INVALID result.
    """

    when = require_utc(at, "at")
    run = SesRun(when, "ses")
    ctx = SesContext()

    def finish(sig: SealSignature | None = None, seal: Seal | None = None, signer: CertView | None = None,
               maker: CertView | None = None) -> SesVerification:  # fmt: skip
        run.checks.extend(dev.check() for dev in ctx.devs)
        return SesVerification(run.result(), sig, seal, signer, maker, tuple(ctx.devs))

    # 0. format
    try:
        sig = parse_signature(signature_der)
    except SesVersionUnsupported as exc:
        run.check("format", [Reason.of(SES_VERSION_UNSUPPORTED, exc.message)])
        return finish()
    except SesFormatError as exc:
        detail = exc.message
        kind = kind_of(signature_der)
        if kind == "raw_signature":
            detail = "a bare SM2 SEQUENCE{r,s}: no certificate, neither SES nor GB/T 35275 SignedData"
        elif kind in ("seal", "signed_data"):
            detail = f"this is a {'seal (SESeal)' if kind == 'seal' else 'GB/T 35275 SignedData'}, not an SES_Signature"
        run.check("format", [Reason.of(SES_MALFORMED, detail)])
        return finish()
    ctx.devs.extend(sig.deviations)
    seal = sig.seal
    try:
        signer = cert_of(sig.signer_cert)
        maker = cert_of(seal.maker_cert)
    except CryptoError as exc:
        run.check("format", [Reason.of(SES_CERTIFICATE_UNREADABLE, exc.message)])
        return finish(sig, seal)
    cert_devs(signer, ctx, "signer certificate")
    cert_devs(maker, ctx, "seal maker certificate")
    if trust.refuse_unknown_critical and (crit := _unknown_critical(ctx)):
        run.check("format", [Reason.of(SES_UNKNOWN_CRITICAL, crit)])
        return finish(sig, seal)
    run.check("format", [], f"SES v{sig.version}, seal v{seal.version} {seal.es_id} ({seal.vid})")

    try:
        if not _algorithm_ok(sig.signature_alg, ctx, "signature.signatureAlgID") or not _algorithm_ok(
            seal.sign_alg, ctx, "seal.signAlgID"
        ):
            raise AlgorithmNotAllowed(f"unsupported SES signature algorithm {sig.signature_alg} / {seal.sign_alg}")
        if algorithms is not None:
            algorithms.check(Algorithm.SM2)
    except AlgorithmNotAllowed as exc:
        run.check("algorithm", [Reason.of(r.ALGORITHM_NOT_ALLOWED, exc.message)])
        return finish(sig, seal)
    run.check("algorithm", [], "SM2 with SM3")

    # 1. the signer's signature value
    covered = sm2_verify(signer, sig.signature, sig.covers, sig.alternative, ctx, "signature", trust.signer_user_ids)
    if covered is None:
        run.check("signature", [Reason.of(r.SIGNATURE_INVALID, f"over {sig.covers.layout}")])
        return finish(sig, seal, None, maker)
    run.check("signature", [], f"over {covered.layout}")

    # 2. the seal maker's signature
    made = sm2_verify(
        maker, seal.signed_value, seal.covers, seal.alternative, ctx, "seal signature", _maker_user_ids(trust, seal.vid)
    )
    if made is None:
        run.check("seal_signature", [Reason.of(SES_SEAL_SIGNATURE_INVALID, f"over {seal.covers.layout}")])
        return finish(sig, seal, signer, maker)
    run.check("seal_signature", [], f"over {made.layout}")

    # 3. seal validity at the signing time
    found: list[Reason] = []
    signed_at = sig.time_info
    if signed_at > when + CLOCK_SKEW:
        found.append(Reason.of(r.SIGNED_IN_FUTURE, signed_at.isoformat()))
    if signed_at < seal.valid_start:
        found.append(Reason.of(SES_SEAL_NOT_YET_VALID, seal.valid_start.isoformat()))
    elif signed_at > seal.valid_end:
        found.append(Reason.of(SES_SEAL_EXPIRED, f"seal valid until {seal.valid_end.isoformat()}, "
                                                 f"signed {signed_at.isoformat()}"))  # fmt: skip
    run.check("seal_validity", found, None if found else f"{seal.valid_start.date()}..{seal.valid_end.date()}")

    # 4. signer certificate in the seal's certificate list
    in_seal = cert_in_seal(seal, sig.signer_cert)
    run.check("signer_in_seal", [] if in_seal else [Reason.of(SES_SIGNER_NOT_IN_SEAL)],
              f"list type {seal.cert_list_type}")  # fmt: skip

    # 5. both chains to trusted anchors, validity at the signing time (maker: at the seal's creation)
    chains: list[tuple[Chain, dt.datetime, str]] = []
    try:
        chain = signer_chain(signer, trust)
        found = chain_validity(chain, signed_at, "signer certificate")
        chains.append((chain, signed_at, "signer"))
        run.check("signer_certificate", found, None if found else f"{signer.subject} → {chain.anchor.subject}")
    except TrustError as exc:
        run.check("signer_certificate", [Reason.of(SES_CERTIFICATE_UNTRUSTED, exc.message)])
    try:
        chain, why = maker_chain(maker, seal.vid, trust)
        found = chain_validity(chain, seal.created, "seal maker certificate at the seal's createDate")
        chains.append((chain, signed_at, "seal maker"))
        run.check("seal_maker_certificate", found, None if found else why)
    except TrustError as exc:
        run.check("seal_maker_certificate", [Reason.of(SES_SEAL_MAKER_UNTRUSTED, exc.message)])

    # 6. revocation
    check_revocation(run, chains, [*trust.crls, *sig.crls], trust)

    # 7. time stamps (over the signer's and, v5, the maker's signature value)
    stamps = [(w, t, v) for w, t, v in (("signature", sig.time_stamp, sig.signature),
                                         ("seal", seal.time_stamp, seal.signed_value)) if t is not None]  # fmt: skip
    if not stamps:
        run.skip("timestamp", "none")
    else:
        found, detail = check_all(stamps, trust=trust, ctx=ctx, signed_at=signed_at)
        run.check("timestamp", found, detail or None)

    # 8. data hash
    if data_hash is None:
        run.check("document_digest", [Reason.of(SES_DOCUMENT_MISSING, sig.property_info or None)])
    elif data_hash != sig.data_hash:
        run.check("document_digest", [Reason.of(SES_DOCUMENT_MISMATCH, sig.property_info or None)])
    else:
        run.check("document_digest", [], sig.property_info or None)
    return finish(sig, seal, signer, maker)


def check_revocation(run: SesRun, chains: Sequence[tuple[Chain, dt.datetime, str]], crl_ders: Sequence[bytes],
                      trust: SesTrust) -> None:  # fmt: skip
    if not chains:
        run.skip("revocation", "no trusted chain")
        return
    crls = _load_crls(crl_ders)
    found: list[Reason] = []
    for chain, when, what in chains:
        found.extend(_revocation(chain, when, crls, what))
    if not trust.require_revocation and all(x.code == SES_REVOCATION_UNKNOWN.code for x in found):
        run.skip("revocation", "not required by this verifier; no revocation data")
        return
    run.check("revocation", found, None if found else "CRLs cover the signing time")


def chain_validity(chain: Chain, when: dt.datetime, what: str) -> list[Reason]:
    if when < chain.not_before:
        return [Reason.of(r.CERTIFICATE_NOT_YET_VALID, f"{what}: valid from {chain.not_before.isoformat()}")]
    if when > chain.not_after:
        return [Reason.of(r.CERTIFICATE_EXPIRED, f"{what}: valid until {chain.not_after.isoformat()}, "
                                                  f"needed at {when.isoformat()}")]  # fmt: skip
    return []


def verify_seal(seal_der: bytes, *, trust: SesTrust, at: dt.datetime) -> SesVerification:
    """Verify a bare seal (``.esl``): maker's signature, maker trust, validity at ``at``."""
    when = require_utc(at, "at")
    run = SesRun(when, "ses_seal")
    ctx = SesContext()
    seal: Seal | None = None
    maker: CertView | None = None

    def finish() -> SesVerification:
        run.checks.extend(dev.check() for dev in ctx.devs)
        return SesVerification(run.result(), None, seal, None, maker, tuple(ctx.devs))

    try:
        seal = parse_seal(seal_der)
        maker = cert_of(seal.maker_cert)
    except SesVersionUnsupported as exc:
        run.check("format", [Reason.of(SES_VERSION_UNSUPPORTED, exc.message)])
        return finish()
    except (SesFormatError, CryptoError) as exc:
        run.check("format", [Reason.of(SES_MALFORMED, exc.message)])
        return finish()
    ctx.devs.extend(seal.deviations)
    cert_devs(maker, ctx, "seal maker certificate")
    if trust.refuse_unknown_critical and (crit := _unknown_critical(ctx)):
        run.check("format", [Reason.of(SES_UNKNOWN_CRITICAL, crit)])
        return finish()
    run.check("format", [], f"seal v{seal.version} {seal.es_id} ({seal.vid})")
    if not _algorithm_ok(seal.sign_alg, ctx, "seal.signAlgID"):
        run.check("algorithm", [Reason.of(r.ALGORITHM_NOT_ALLOWED, seal.sign_alg)])
        return finish()
    made = sm2_verify(
        maker, seal.signed_value, seal.covers, seal.alternative, ctx, "seal signature", _maker_user_ids(trust, seal.vid)
    )
    if made is None:
        run.check("seal_signature", [Reason.of(SES_SEAL_SIGNATURE_INVALID, f"over {seal.covers.layout}")])
        return finish()
    run.check("seal_signature", [], f"over {made.layout}")
    found: list[Reason] = []
    if when < seal.valid_start:
        found.append(Reason.of(SES_SEAL_NOT_YET_VALID, seal.valid_start.isoformat()))
    elif when > seal.valid_end:
        found.append(Reason.of(SES_SEAL_EXPIRED, f"seal valid until {seal.valid_end.isoformat()}"))
    run.check("seal_validity", found)
    try:
        chain, why = maker_chain(maker, seal.vid, trust)
        run.check("seal_maker_certificate", chain_validity(chain, seal.created, "seal maker certificate"), why)
        check_revocation(run, [(chain, when, "seal maker")], trust.crls, trust)
    except TrustError as exc:
        run.check("seal_maker_certificate", [Reason.of(SES_SEAL_MAKER_UNTRUSTED, exc.message)])
    return finish()


def verify_signature(
    data: bytes,
    *,
    document: bytes | None,
    trust: SesTrust,
    at: dt.datetime,
    algorithms: AlgorithmPolicy | None = None,
) -> VerificationResult:
    """:func:`verify_ses` for a detached signature over ``document`` (dataHash = SM3 of it)."""
    digest = None if document is None else sm3_digest(document)
    return verify_ses(data, data_hash=digest, trust=trust, at=at, algorithms=algorithms).result


def trust_from_store(store: TrustStore, extra_crls: Sequence[bytes] = (), bundle: Bundle | None = None) -> SesTrust:
    """Seal trust from a :class:`~elicense.trust.store.TrustStore`: its roots, and the
    intermediates of its validated chains (SM2 ones are the only ones used); plus the seal
    makers, signer roots and TSA roots of the signed bundle's ``seal_makers`` section (when
    ``bundle`` has one) and of ``$ELICENSE_SEAL_MAKERS`` (:mod:`elicense.seal.trustlist`)."""

    inter: dict[bytes, x509.Certificate] = {}
    for keys in store.keys.values():
        for key in keys:
            for cert in key.chain.chain[1:-1]:
                inter[der_certificate(cert)] = cert
    section = bundle.section(SECTION) if bundle is not None else None
    signed = policy_from_bytes(section, f"trust bundle section {SECTION!r}") if section is not None else None
    env = os.environ.get("ELICENSE_SEAL_MAKERS")  # the relying party's own additions (other vendors)
    policy = merge(signed, load_policy(Path(env)) if env else None)
    roots: tuple[CertLike, ...] = (*store.roots, *policy.signer_roots)
    return SesTrust(roots=roots, intermediates=tuple(inter.values()), crls=tuple(extra_crls),
                    seal_makers=policy.seal_makers, tsa_roots=policy.tsa_roots)  # fmt: skip


MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def verify_ses_input(
    verifier: LicenceVerifier, data: bytes, *, at: dt.datetime | None = None, source: Path | None = None
) -> VerificationResult:
    """Glue for ``elicense verify``: trust and allow-list from ``verifier``; the document is the
    file named by ``propertyInfo`` beside ``source`` (a bare file name only, never a path)."""
    when = require_utc(at if at is not None else verifier.clock(), "at")
    document: bytes | None = None
    try:
        info = parse_signature(data).property_info
    except SesFormatError:
        info = ""
    if source is not None and info and _safe_name(info):
        candidate = source.parent / info
        if candidate.is_file():
            with candidate.open("rb") as fh:
                document = fh.read(MAX_DOCUMENT_BYTES + 1)
            if len(document) > MAX_DOCUMENT_BYTES:
                raise InputError("signed document too large", message_zh="被签章的原文过大")
    result = verify_signature(
        data,
        document=document,
        trust=trust_from_store(
            verifier.trust, bundle=getattr(verifier, "bundle", None)
        ),  # a bare stand-in may have none
        at=when,
        algorithms=verifier.algorithms,
    )
    if document is not None and document.lstrip()[:4] == b"EL2:" and result.status is not Status.INVALID:
        # a sealed licence payload: its own verification decides too (issuer, validity, catalogue)
        licence = verifier.verify(document.decode("ascii", "replace").strip(), at=when)
        reasons = (*result.reasons, *licence.reasons)
        return VerificationResult(
            status=r.worst(x.status for x in reasons), reasons=reasons,
            checks=(*result.checks, *(Check(f"licence.{c.name}", c.outcome, c.detail) for c in licence.checks)),
            verified_at=when, licence=licence.licence, issuer=licence.issuer,
            licence_type=licence.licence_type, fields=licence.fields, kind="ses",
        )  # fmt: skip
    return result


def _safe_name(name: str) -> bool:
    return (
        0 < len(name) <= 255 and "/" not in name and "\\" not in name and name not in (".", "..")
        and "\x00" not in name
    )  # fmt: skip


__all__ = [
    "trust_from_store",
    "verify_seal",
    "verify_ses",
    "verify_ses_input",
    "verify_signature",
]
