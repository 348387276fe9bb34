"""The offline trust bundle: one signed file a kiosk verifies against, with no network.

Container (specified in ``specs/trust-list.md``): a COSE_Sign1 message (the same
narrow profile as QR payloads, :mod:`elicense.qr.cose`) whose payload is a
deterministic CBOR map holding

* the signed XML national list of lists and every signed XML region list, byte for byte;
* ``index``: the same trust data, already extracted, so that ``elicense verify`` never
  imports lxml/signxml (the XML is re-verified and compared with the index by
  :func:`load_bundle` with ``deep=True``, by ``elicense trust update/show`` and at build);
* the root history (TUF-style rotation: each new root cross-certified by the previous one);
* ``extras``: named opaque sections (status lists, CRLs) for other features.

The bundle is signed by the national list operator: a certificate issued directly by
the current national root with the trust-list-signing EKU. Time never comes from here:
freshness is judged by the verifier at its ``at``.

This module reads and writes bundles; it does not decide what a verifier installs. Pinning,
rollback against the verifier's memory, status binding and replacement are
:class:`elicense.trust_state.TrustedState`'s (above ``trust`` and ``status``): ``trust`` never
imports ``status``, the ``status`` section is opaque bytes here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.basics import require_utc
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy, PrivateKey, verify_cose_signature
from elicense.crypto.keys import Signer, key_id
from elicense.crypto.pki import CERTIFICATE_ERRORS, ValidatedChain, algorithm_of, is_sm2_signed, public_key_of
from elicense.errors import AlgorithmNotAllowed, PayloadError, TrustError
from elicense.qr import cbor
from elicense.qr.cose import CoseSign1, parse_sign1, sign1
from elicense.trust.common import (
    Agreement,
    TrustListConflict,
    TrustRollback,
    TrustSignatureInvalid,
    iso,
    read_limited,
    validate_list_signer,
)
from elicense.trust.policy import Recognition
from elicense.trust.store import TrustedAuthority, TrustStore, check_identities

if TYPE_CHECKING:
    from elicense.crypto.sm2 import Sm2PrivateKey
    from elicense.trust.lists import NationalList, RegionList  # the XML model: publishing and deep checks only

FORMAT = "elicense-bundle/1"
EXTENSION = ".cose"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_EXTRAS = 10_000
STATUS_SECTION = "status"
"""Extra section holding the JSON status section (``elicense.status.section``; bound by ``elicense.trust_state``)."""
COSE_TAG_PREFIX = b"\xd2"  # CBOR tag 18 (COSE_Sign1): how a bundle is told from a JSON trust file


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RootEntry:
    """One root in the rotation history."""

    root: x509.Certificate
    """The (self-signed) root certificate."""
    cross: x509.Certificate | None = None
    """Cross-certificate of this root's key issued by the previous root (None for the first)."""
    drop_previous: bool = False
    """If set, earlier roots are no longer anchors for authority certificates (compromise)."""


@dataclass(frozen=True)
class ListSummary:
    """Scheme data of one list, as the index carries it."""

    operator: str
    """List operator."""
    sequence: int
    """Sequence number."""
    issued_at: dt.datetime
    """Issue time."""
    next_update: dt.datetime
    """Next update."""
    name: str = ""
    """Region name (region lists)."""


@dataclass(frozen=True)
class IndexedAuthority:
    """An authority as the index carries it."""

    region: str
    """Region whose list names it."""
    name: str
    """Name."""
    code: str
    """USCC."""
    area_code: str
    """Area code."""
    licence_types: tuple[str, ...]
    """Type codes."""
    history: tuple[tuple[str, dt.datetime], ...]
    """Status history."""
    certificates: tuple[x509.Certificate, ...]
    """Signing certificates."""


@dataclass(frozen=True)
class Bundle:
    """A bundle whose signature (and root history) verified. Build with :func:`load_bundle`."""

    sequence: int
    """Bundle sequence number (no rollback)."""
    issued_at: dt.datetime
    """When published."""
    next_update: dt.datetime
    """Bundle's own next update."""
    signer: ValidatedChain
    """The national operator's certificate chain."""
    roots: tuple[RootEntry, ...]
    """Root history, oldest first; the last is the current root."""
    anchor_index: int
    """Index in :attr:`roots` of the oldest root still anchoring authorities (the last drop)."""
    national_xml: bytes = field(repr=False)
    """The signed national list, byte for byte."""
    region_xml: Mapping[str, bytes] = field(repr=False)
    """Region code → signed region list bytes."""
    national: ListSummary
    """National list scheme data."""
    regions: Mapping[str, ListSummary]
    """Region code → scheme data."""
    intermediates: tuple[x509.Certificate, ...]
    """Regional CA certificates."""
    authorities: tuple[IndexedAuthority, ...]
    """All authorities of all region lists."""
    agreements: tuple[Agreement, ...]
    """Recognition agreements."""
    equivalences: tuple[frozenset[str], ...]
    """Type-code equivalence classes."""
    extras: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    """Named extra sections (``status/…``, ``crl/…``), covered by the bundle signature."""
    raw: bytes = field(default=b"", repr=False)
    """The bundle file bytes."""
    region_cas: Mapping[str, tuple[x509.Certificate, ...]] = field(default_factory=dict, repr=False)
    """Region code → the CA certificates its list names (its authorities must chain through one)."""

    @property
    def current_root(self) -> x509.Certificate:
        """The root trust-list signers must chain to."""
        return self.roots[-1].root

    @property
    def anchor_roots(self) -> tuple[x509.Certificate, ...]:
        """Roots that anchor authority certificates (from the last drop on)."""
        return tuple(e.root for e in self.roots[self.anchor_index :])

    @property
    def stale_after(self) -> dt.datetime:
        """The earliest next-update over the bundle and every list in it."""
        return min([self.next_update, self.national.next_update, *(s.next_update for s in self.regions.values())])

    def section(self, name: str) -> bytes | None:
        """An extra section by name (``None`` if absent)."""
        return self.extras.get(name)

    def trust_store(self) -> TrustStore:
        """The verifier's trust core (chains validated once here)."""
        entries = [
            (
                TrustedAuthority(
                    name=a.name,
                    code=a.code,
                    area_code=a.area_code,
                    licence_types=frozenset(a.licence_types),
                    history=a.history,
                ),
                a.certificates,
            )
            for a in self.authorities
        ]
        store = TrustStore.build(
            roots=self.anchor_roots,
            intermediates=self.intermediates,
            authorities=entries,
            issued_at=self.issued_at,
            next_update=self.stale_after,
            strict=False,
        )
        if self.region_cas:
            check_chains_in_region(store, self.region_cas)
        return store

    def recognition(self, region: str) -> Recognition:
        """The :class:`~elicense.trust.policy.Recognition` policy of relying ``region``."""
        return Recognition.from_agreements(region, self.agreements, self.equivalences)


# -- encoding --------------------------------------------------------------------------------


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _load_der(value: object, what: str) -> x509.Certificate:
    if not isinstance(value, bytes):
        raise TrustError(f"trust bundle: {what} must be a DER certificate")
    try:
        cert = x509.load_der_x509_certificate(value)
        _ = (cert.subject, cert.issuer, cert.extensions)  # parsed lazily: fail here, typed (fuzz finding)
    except CERTIFICATE_ERRORS as exc:
        raise TrustError(f"trust bundle: {what} is not a certificate: {exc}") from exc
    return cert


def _time(value: object, what: str) -> dt.datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise TrustError(f"trust bundle: {what} must be a UTC time string")
    try:
        return dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError as exc:
        raise TrustError(f"trust bundle: bad {what}: {value!r}") from exc


def _summary_doc(s: ListSummary) -> dict[str, object]:
    return {
        "operator": s.operator,
        "sequence": s.sequence,
        "issued_at": iso(s.issued_at),
        "next_update": iso(s.next_update),
        "name": s.name,
    }


def _summary(doc: object, what: str) -> ListSummary:
    if not isinstance(doc, dict):
        raise TrustError(f"trust bundle: {what} must be a map")
    seq = doc.get("sequence")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise TrustError(f"trust bundle: {what} sequence must be a positive integer")
    return ListSummary(
        str(doc.get("operator", "")),
        seq,
        _time(doc.get("issued_at"), what),
        _time(doc.get("next_update"), what),
        str(doc.get("name", "")),
    )


def derive_index(national: NationalList, regions: Sequence[RegionList]) -> dict[str, object]:
    """The index the verifier reads, derived from verified lists (the only producer)."""
    return {
        "national": _summary_doc(
            ListSummary(national.operator, national.sequence, national.issued_at, national.next_update)
        ),
        "regions": {
            rl.region: {
                **_summary_doc(ListSummary(rl.operator, rl.sequence, rl.issued_at, rl.next_update, rl.region_name)),
                "cas": [_der(c) for c in rl.ca_certificates],
            }
            for rl in regions
        },
        "authorities": [
            {
                "region": rl.region,
                "name": a.name,
                "code": a.uscc,
                "area": a.area_code,
                "types": list(a.licence_types),
                "history": [[h.status, iso(h.at)] for h in a.history],
                "certs": [_der(c) for c in a.certificates],
            }
            for rl in regions
            for a in rl.authorities
        ],
        "agreements": [[a.relying, a.issuing, sorted(a.licence_types)] for a in national.agreements],
        "equivalences": [sorted(e) for e in national.equivalences],
    }


def _roots_doc(roots: Sequence[RootEntry]) -> list[dict[str, object]]:
    return [
        {"root": _der(e.root), "cross": _der(e.cross) if e.cross else None, "drop_previous": e.drop_previous}
        for e in roots
    ]


def verify_xml_lists(
    national_xml: bytes,
    region_xml: Mapping[str, bytes],
    *,
    root: x509.Certificate,
    anchors: Sequence[x509.Certificate] = (),
    algorithms: AlgorithmPolicy | None = None,
) -> tuple[NationalList, list[RegionList]]:
    """Fully verify the XML lists (signatures, pinned signers, digests).

    The national list signer must be issued directly by the current ``root``; region
    list signers (pinned by the national list) may chain to any root still anchoring
    (``anchors``: during a rotation, regional CAs under the previous root remain).
    """
    from elicense.trust.lists import read_national_list, read_region_list  # lxml + signxml: deep checks only

    national, _ = read_national_list(national_xml, roots=[root], algorithms=algorithms)
    region_roots = [root, *(a for a in anchors if a != root)]
    pointed = {p.region for p in national.pointers}
    if set(region_xml) != pointed:
        raise TrustSignatureInvalid(
            f"bundle region lists {sorted(region_xml)} differ from the national list's pointers {sorted(pointed)}"
        )
    regions = [
        read_region_list(region_xml[p.region], pointer=p, roots=region_roots, algorithms=algorithms)[0]
        for p in national.pointers
    ]
    return national, regions


def build_bundle(
    *,
    national_xml: bytes,
    region_xml: Mapping[str, bytes],
    signer: Signer,
    roots: Sequence[RootEntry],
    sequence: int,
    issued_at: dt.datetime,
    next_update: dt.datetime,
    extras: Mapping[str, bytes] | None = None,
    algorithms: AlgorithmPolicy | None = None,
) -> bytes:
    """Verify the lists, derive the index and sign the bundle (the only bundle producer).

    ``algorithms``: what the publisher's self-check accepts in the lists (default: every
    supported algorithm, SM2 included — it checks its own output, not foreign input).
    """
    issued_at = require_utc(issued_at, "issued_at")
    if require_utc(next_update, "next_update") <= issued_at:
        raise TrustError("bundle next update must be later than its issue time")
    if sequence < 1:
        raise TrustError("bundle sequence numbers start at 1")
    if not roots:
        raise TrustError("bundle needs at least one root")
    extras = dict(extras or {})
    if any(not isinstance(k, str) or not isinstance(v, bytes) for k, v in extras.items()):
        raise TrustError("bundle extras must map names to bytes")
    _check_root_history(roots)
    chain = validate_list_signer(signer.certificate, roots=[roots[-1].root])
    if len(chain.chain) != 2:
        raise TrustSignatureInvalid("the bundle signer must be issued directly by the current root")
    national, regions = verify_xml_lists(
        national_xml,
        region_xml,
        root=roots[-1].root,
        anchors=[e.root for e in roots[_last_drop(roots) :]],
        algorithms=algorithms or AlgorithmPolicy(frozenset(Algorithm)),
    )
    doc = {
        "format": FORMAT,
        "sequence": sequence,
        "issued_at": iso(issued_at),
        "next_update": iso(next_update),
        "signer": [_der(signer.certificate)],
        "roots": _roots_doc(roots),
        "national": national_xml,
        "regions": dict(region_xml),
        "index": derive_index(national, regions),
        "extras": extras,
    }
    data = sign1(cbor.dumps(doc), signer, key_id(signer.certificate))
    # what every verifier checks at load, checked before anyone receives it (region binding, chains)
    load_bundle(data, algorithms=algorithms or AlgorithmPolicy(frozenset(Algorithm))).trust_store()
    return data


# -- root rotation ---------------------------------------------------------------------------


def make_cross_certificate(
    new_root: x509.Certificate, old_root: x509.Certificate, old_root_key: PrivateKey | Sm2PrivateKey
) -> x509.Certificate:
    """The old root's announcement of a new root: the new root's key, certified by the old one (SM2 roots too)."""
    from elicense.crypto import sm2  # SM2 homes only (kept off the verify path)

    if isinstance(old_root_key, sm2.Sm2PrivateKey):  # an SM2 root: cryptography cannot sign SM2
        return sm2.make_sm2_cross_certificate(new_root, old_root, old_root_key)
    if algorithm_of(new_root) is Algorithm.SM2:  # ES256 → SM2 migration: an ECDSA root announces an SM2 root
        if not isinstance(old_root_key, ec.EllipticCurvePrivateKey):
            raise TrustError(
                "only an ECDSA or SM2 root can announce an SM2 root",
                message_zh="只有 ECDSA 或 SM2 根证书可以公告 SM2 根证书",
            )
        return sm2.make_sm2_cross_certificate_by_ecdsa(new_root, old_root, old_root_key)

    builder = (
        x509.CertificateBuilder()
        .subject_name(new_root.subject)
        .issuer_name(old_root.subject)
        .public_key(new_root.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(new_root.not_valid_before_utc)
        .not_valid_after(min(new_root.not_valid_after_utc, old_root.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
    )
    return builder.sign(old_root_key, hashes.SHA256())


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    """Same SubjectPublicKeyInfo (as DER from the certificates: SM2 keys included, which cryptography cannot load)."""

    def spki(c: x509.Certificate) -> bytes:
        try:
            fmt = serialization.PublicFormat.SubjectPublicKeyInfo
            return c.public_key().public_bytes(serialization.Encoding.DER, fmt)
        except (ValueError, TypeError, UnsupportedAlgorithm):  # an SM2 key
            from asn1crypto import x509 as a509  # SM2 keys only (kept off the verify path)

            der: bytes = a509.TbsCertificate.load(c.tbs_certificate_bytes)["subject_public_key_info"].dump(force=True)
            return der

    return spki(a) == spki(b)


def _last_drop(roots: Sequence[RootEntry]) -> int:
    """Index of the oldest root still anchoring authorities (the last ``drop_previous``)."""
    start = 0
    for i, e in enumerate(roots):
        if e.drop_previous:
            start = i
    return start


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """``cert.verify_directly_issued_by(issuer)``, SM2-with-SM3 included (cryptography cannot check it)."""
    if not is_sm2_signed(cert):
        cert.verify_directly_issued_by(issuer)
        return
    from elicense.crypto.sm2 import Sm2PublicKey, verify_certificate_signature  # SM2 roots only

    if cert.issuer != issuer.subject or not verify_certificate_signature(cert, Sm2PublicKey.from_certificate(issuer)):
        raise ValueError("SM2 signature does not verify with the issuer's key")


def _check_root_history(roots: Sequence[RootEntry]) -> None:
    """Each root self-signed; each later root announced by a cross-certificate of the previous one."""
    for i, entry in enumerate(roots):
        try:
            _issued_by(entry.root, entry.root)
        except (ValueError, TypeError, Exception) as exc:
            raise TrustSignatureInvalid(f"root #{i} is not a self-signed certificate: {exc}") from exc
        if i == 0:
            continue
        prev = roots[i - 1].root
        cross = entry.cross
        if cross is None:
            raise TrustSignatureInvalid(
                f"root #{i} is not announced by the previous root (no cross-certificate)",
                message_zh="新根证书未经旧根交叉认证",
            )
        try:
            _issued_by(cross, prev)
        except Exception as exc:
            raise TrustSignatureInvalid(
                f"root #{i}: cross-certificate not signed by the previous root: {exc}",
                message_zh="新根证书的交叉证书不是旧根签发的",
            ) from exc
        if not _same_key(cross, entry.root) or cross.subject != entry.root.subject:
            raise TrustSignatureInvalid(f"root #{i}: cross-certificate certifies another key")


# -- loading ---------------------------------------------------------------------------------


def is_bundle(data: bytes) -> bool:
    """Whether ``data`` looks like a bundle (COSE_Sign1) rather than a JSON trust file."""
    return data[:1] == COSE_TAG_PREFIX


def load_bundle(
    data: bytes,
    *,
    anchors: Sequence[x509.Certificate] | None = None,
    deep: bool = False,
    algorithms: AlgorithmPolicy | None = None,
) -> Bundle:
    """Authenticate a bundle and return its content.

    ``anchors``: roots the caller already trusts; the bundle's current root must be one
    of them or reachable from one through the root history (else
    :class:`TrustSignatureInvalid`). Without anchors the bundle's own first root is the
    anchor (trust on installation, as the JSON trust file). ``deep`` re-verifies every XML
    list and checks the index against them (needs lxml + signxml). ``algorithms``: the
    caller's allow-list (default :meth:`AlgorithmPolicy.default`, no SM2) for the bundle
    signature and, with ``deep``, every list signature.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise TrustError("trust bundle too large", message_zh="信任数据包过大")
    if not is_bundle(data):
        raise TrustError("not an elicense trust bundle", message_zh="不是电子证照信任数据包")
    try:
        message = parse_sign1(data)
        doc = cbor.loads(message.payload, max_depth=8)
    except PayloadError as exc:
        raise TrustError(f"trust bundle is malformed: {exc.message}", message_zh="信任数据包格式错误") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise TrustError(f"not an elicense trust bundle (expected {FORMAT})", message_zh="不是电子证照信任数据包")
    try:
        return _load(doc, message, data, anchors, deep, algorithms or AlgorithmPolicy.default())
    except (KeyError, TypeError, AttributeError) as exc:
        raise TrustError(f"trust bundle is malformed: {exc!r}", message_zh="信任数据包格式错误") from exc


def _load(
    doc: dict[str, Any],  # decoded CBOR: checked field by field below
    message: CoseSign1,
    data: bytes,
    anchors: Sequence[x509.Certificate] | None,
    deep: bool,
    algorithms: AlgorithmPolicy,
) -> Bundle:
    try:
        alg = Algorithm.from_cose_id(message.alg_id)
    except AlgorithmNotAllowed as exc:
        raise TrustSignatureInvalid(f"bundle signature algorithm: {exc.message}") from exc
    if alg not in algorithms.allowed:  # refuse before any key is touched
        raise AlgorithmNotAllowed(
            f"the trust bundle is signed with {alg.label}, which this verifier's algorithm policy does not allow "
            f"(allow it with --allow-alg {alg.label} or ELICENSE_ALGORITHMS)",
            message_zh=f"信任数据包使用 {alg.label} 签名，不在本校验端允许的算法列表中"
            f"（可用 --allow-alg {alg.label} 或 ELICENSE_ALGORITHMS 开启）",
        )
    roots_doc = doc["roots"]
    if not isinstance(roots_doc, list) or not roots_doc or len(roots_doc) > 64:
        raise TrustError("trust bundle: roots must be a non-empty list")
    roots = tuple(
        RootEntry(
            _load_der(r["root"], "root"),
            _load_der(r["cross"], "cross") if r.get("cross") else None,
            bool(r.get("drop_previous", False)),
        )
        for r in roots_doc
    )
    _check_root_history(roots)
    start = _last_drop(roots)
    if anchors is not None:
        anchor_ders = {_der(a) for a in anchors}
        pinned = [i for i, e in enumerate(roots) if _der(e.root) in anchor_ders]
        if not pinned:
            raise TrustSignatureInvalid(
                "trust bundle is not signed under the trust anchor already installed",
                message_zh="信任数据包不是由已安装的信任锚签发的",
            )
        # authenticity only: authority anchors are the roots since the last drop
    signer_certs = doc["signer"]
    if not isinstance(signer_certs, list) or not signer_certs:
        raise TrustError("trust bundle: no signer certificate")
    signer = _load_der(signer_certs[0], "signer")
    chain = validate_list_signer(signer, roots=[roots[-1].root])
    if len(chain.chain) != 2:
        raise TrustSignatureInvalid("the bundle signer must be issued directly by the current root")
    if message.kid != key_id(signer):
        raise TrustSignatureInvalid("bundle kid does not match its signer certificate")
    if alg is not algorithm_of(signer) or not verify_cose_signature(
        public_key_of(signer), alg, message.signature, message.to_be_signed()
    ):
        raise TrustSignatureInvalid("trust bundle signature is invalid", message_zh="信任数据包签名无效")
    issued_at = _time(doc["issued_at"], "issued_at")
    if not chain.valid_at(issued_at):
        raise TrustSignatureInvalid("trust bundle was signed outside its signer certificate's validity")
    seq = doc["sequence"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise TrustError("trust bundle: sequence must be a positive integer")
    national_xml, region_xml = doc["national"], doc["regions"]
    if (
        not isinstance(national_xml, bytes)
        or not isinstance(region_xml, dict)
        or not all(isinstance(k, str) and isinstance(v, bytes) for k, v in region_xml.items())
    ):
        raise TrustError("trust bundle: lists must be bytes")
    extras = doc.get("extras", {})
    if (
        not isinstance(extras, dict)
        or len(extras) > MAX_EXTRAS
        or not all(isinstance(k, str) and isinstance(v, bytes) for k, v in extras.items())
    ):
        raise TrustError("trust bundle: extras must map names to bytes")
    index = doc["index"]
    if deep:
        national, regions = verify_xml_lists(
            national_xml,
            region_xml,
            root=roots[-1].root,
            anchors=[e.root for e in roots[start:]],
            algorithms=algorithms,
        )
        if derive_index(national, regions) != index:
            raise TrustSignatureInvalid(
                "trust bundle index does not match its signed XML lists", message_zh="信任数据包索引与签名列表不一致"
            )
    region_summaries = {code: _summary(v, f"region {code}") for code, v in index["regions"].items()}
    if set(region_summaries) != set(region_xml):
        raise TrustError("trust bundle: index regions differ from the region lists")
    authorities = tuple(
        IndexedAuthority(
            region=str(a["region"]),
            name=str(a["name"]),
            code=str(a["code"]),
            area_code=str(a["area"]),
            licence_types=tuple(str(t) for t in a["types"]),
            history=tuple((str(s), _time(t, "history")) for s, t in a["history"]),
            certificates=tuple(_load_der(c, "authority certificate") for c in a["certs"]),
        )
        for a in index["authorities"]
    )
    region_cas = {code: tuple(_load_der(c, "CA") for c in v["cas"]) for code, v in index["regions"].items()}
    check_region_binding(authorities, region_cas)
    return Bundle(
        sequence=seq,
        issued_at=issued_at,
        next_update=_time(doc["next_update"], "next_update"),
        signer=chain,
        roots=roots,
        anchor_index=start,
        national_xml=national_xml,
        region_xml=dict(region_xml),
        national=_summary(index["national"], "national list"),
        regions=region_summaries,
        intermediates=tuple(c for cas in region_cas.values() for c in cas),
        authorities=authorities,
        agreements=tuple(Agreement(str(r), str(i), frozenset(str(t) for t in ts)) for r, i, ts in index["agreements"]),
        equivalences=tuple(frozenset(str(t) for t in e) for e in index["equivalences"]),
        extras=dict(extras),
        raw=data,
        region_cas=region_cas,
    )


def read_bundle_file(
    path: Path,
    *,
    anchors: Sequence[x509.Certificate] | None = None,
    deep: bool = False,
    algorithms: AlgorithmPolicy | None = None,
) -> Bundle:
    """Read and authenticate a bundle file (see :func:`load_bundle`)."""
    data = read_limited(path, MAX_BUNDLE_BYTES, "trust bundle", "信任数据包")
    return load_bundle(data, anchors=anchors, deep=deep, algorithms=algorithms)


# -- region binding --------------------------------------------------------------------------


def check_region_binding(
    authorities: Sequence[IndexedAuthority], region_cas: Mapping[str, Sequence[x509.Certificate]]
) -> None:
    """Each authority's identity belongs to the region that lists it (else :class:`TrustListConflict`).

    Its area code lies in the region (GB/T 2260 prefix); authority codes, certificate key
    ids and regional CA certificates are unique across the bundle. Which chain each
    certificate takes is checked when the chains are validated (:func:`check_chains_in_region`).
    """
    ca_owner: dict[bytes, str] = {}
    for region, cas in region_cas.items():
        for ca in cas:
            prev = ca_owner.setdefault(_der(ca), region)
            if prev != region:
                raise TrustListConflict(
                    f"the CA certificate of region {prev} is listed again by region {region}: trust data refused",
                    message_zh=f"地区 {prev} 的 CA 证书被地区 {region} 重复列入，拒绝该信任数据",
                    details={"regions": [prev, region]},
                )
    for a in authorities:
        if a.region not in region_cas:
            raise TrustListConflict(f"authority {a.code} is listed under region {a.region}, which has no list")
        if len(a.area_code) != 6 or not a.area_code.isdigit() or a.area_code[:2] != a.region[:2]:
            raise TrustListConflict(
                f"region {a.region} lists {a.name} ({a.code}) in area {a.area_code}, outside region {a.region}: "
                f"trust data refused",
                message_zh=f"地区 {a.region} 列入的发证机关 {a.name}（{a.code}）所在区划 {a.area_code} 不属于该地区，"
                f"拒绝该信任数据",
                details={"regions": [a.region, a.area_code[:2] + "0000"]},
            )
    check_identities((a.region, a.code, a.name, a.certificates) for a in authorities)


def check_chains_in_region(store: TrustStore, region_cas: Mapping[str, Sequence[x509.Certificate]]) -> None:
    """Every trusted key chains through a CA its own region lists (never another region's, never none)."""
    for keys in store.keys.values():
        for key in keys:
            region = key.authority.region
            own = region_cas.get(region, ())
            path = key.chain.chain[1:-1]
            if any(ca in own for ca in path):
                continue
            other = next((r for r, cas in region_cas.items() for ca in path if ca in cas), None)
            via = f"the CA of region {other}" if other else "no regional CA"
            raise TrustListConflict(
                f"region {region} lists a certificate of {key.authority.name} ({key.authority.code}) that chains "
                f"through {via}, not region {region}'s CA: trust data refused",
                message_zh=f"地区 {region} 列入的 {key.authority.name} 证书不是由本地区 CA 签发"
                f"{f'（由地区 {other} 的 CA 签发）' if other else ''}，拒绝该信任数据",
                details={"regions": [region, other] if other else [region]},
            )


# -- update ----------------------------------------------------------------------------------


def check_update(current: Bundle, new: Bundle) -> None:
    """Refuse a rollback: the bundle and every list it carries must not go back in sequence.

    The status lists inside are the owner's to compare (:meth:`elicense.trust_state.TrustedState.check_update`).
    """
    if new.sequence <= current.sequence:
        raise TrustRollback(
            f"new bundle sequence {new.sequence} is not newer than the installed {current.sequence}",
            message_zh=f"新信任数据包序号 {new.sequence} 不大于已安装的 {current.sequence}，拒绝回滚",
        )
    if new.national.sequence < current.national.sequence:
        raise TrustRollback(f"national list sequence goes back ({current.national.sequence} → {new.national.sequence})")
    for code, old in current.regions.items():
        now = new.regions.get(code)
        if now is not None and now.sequence < old.sequence:
            raise TrustRollback(f"region {code} list sequence goes back ({old.sequence} → {now.sequence})")
