"""An issuer home directory: the PKI, encrypted keys and authorities of one issuing setup.

Layout (``HOME`` = the directory given with ``--home``)::

    HOME/home.json          what is here: roots, regions, authorities, key references
    HOME/pki/*.pem          certificates
    HOME/keys/*.key.pem     private keys, PKCS#8 encrypted with the home passphrase

The passphrase comes from ``$ELICENSE_PASSPHRASE``; a demo home records that it
uses the public demo passphrase (and says so), never a production secret.

:class:`Home` owns the home's files: certificates, keys, the certificate revocations it
recorded, the CRLs its CA keys sign, its publication base URL. The services built over a home
(publishing trust lists, status lists and CRLs, seals) live above it in :mod:`elicense.services`;
lower packages (``trust``, ``status``, ``seal``…) take explicit inputs and never import it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from elicense.basics import require_utc
from elicense.crypto.algorithms import Algorithm
from elicense.crypto.keys import Signer, SoftwareSigner, atomic_write, decrypt_private_key
from elicense.crypto.pki import (
    DEFAULT_PUBLICATION_BASE,
    algorithm_of,
    is_sm2_signed,
    load_pem_certificates,
    to_pem,
)
from elicense.crypto.sm2 import Sm2PrivateKey
from elicense.crypto.suites import load_key, make_signer
from elicense.errors import StorageError, UsageError
from elicense.model import Authority
from elicense.present.wallet import holder_credential
from elicense.seal import SEALS_SECTION as SEALS_SECTION
from elicense.status.crl import RevokedCert, build_crl, build_sm2_crl
from elicense.trust.file import dump_trust_file
from elicense.trust.store import TrustedAuthority, TrustStore

if TYPE_CHECKING:
    from elicense.present.presentation import SoftwareDeviceKey
    from elicense.qr.mso import HolderCredential
    from elicense.registry import Registry

FORMAT = "elicense-home/1"
PUBLICATION = "publication"
"""``home.json`` section naming the base URL of the home's CA certificates and CRLs."""
"""``home.json`` section of the GB/T 38540 seal makers and seals (:mod:`elicense.services.seals`)."""
REVOKED_CERTS_FILE = "status/revoked-certificates.json"
"""The certificate revocations the home recorded (``elicense status revoke-cert``)."""
ENTRY_CRL_DAYS = 7
"""Validity of the CRLs embedded as revocation evidence in a seal signature (:meth:`Home.entry_crls`)."""
PASSPHRASE_ENV = "ELICENSE_PASSPHRASE"  # noqa: S105 - the variable name, not a secret
DEMO_PASSPHRASE = "elicense-demo-passphrase-not-secret"  # noqa: S105 - public by design


@dataclass(frozen=True)
class RegionEntry:
    """A province-level region with its CA."""

    code: str
    """Province-level GB/T 2260 code."""
    name: str
    """Region name."""
    ca_cert: str
    """Path of the regional CA certificate, relative to the home."""
    ca_key: str | None = None
    """Path of the regional CA key (absent on issuing-only homes)."""


@dataclass(frozen=True)
class AuthorityEntry:
    """An issuing authority of this home and its signing key."""

    name: str
    """Official name."""
    code: str
    """USCC (or area code)."""
    area_code: str
    """GB/T 2260 area code."""
    licence_types: tuple[str, ...]
    """Type codes it may issue."""
    cert: str
    """Signing certificate path (relative)."""
    key: str
    """Encrypted private key path (relative)."""
    seal_name: str = "电子证照专用章"
    """Name on its seal."""

    @property
    def authority(self) -> Authority:
        """As a model object."""
        return Authority(self.name, self.code, self.area_code)

    @property
    def region(self) -> str:
        """Province-level code."""
        return self.area_code[:2] + "0000"


@dataclass(frozen=True)
class Home:
    """A loaded issuer home (immutable view; :meth:`save` writes a new ``home.json``)."""

    path: Path
    """Directory."""
    roots: tuple[str, ...]
    """Root certificate paths (relative)."""
    regions: tuple[RegionEntry, ...]
    """Regions."""
    authorities: tuple[AuthorityEntry, ...]
    """Authorities."""
    demo: bool = False
    """Whether this home uses the public demo passphrase."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other sections, kept as they are (later features add theirs)."""

    @classmethod
    def load(cls, path: str | Path) -> Home:
        """Read ``HOME/home.json``."""
        path = Path(path)
        try:
            doc = json.loads((path / "home.json").read_text("utf-8"))
        except FileNotFoundError as exc:
            raise StorageError(
                f"{path} is not an elicense home (no home.json)", message_zh=f"{path} 不是证照签发目录"
            ) from exc
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {path / 'home.json'}: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StorageError(f"{path / 'home.json'} has an unknown format")
        try:
            return cls(
                path=path,
                roots=tuple(doc["roots"]),
                regions=tuple(RegionEntry(**r) for r in doc["regions"]),
                authorities=tuple(
                    AuthorityEntry(**{**a, "licence_types": tuple(a["licence_types"])}) for a in doc["authorities"]
                ),
                demo=bool(doc.get("demo", False)),
                extra={k: v for k, v in doc.items() if k not in _KNOWN},
            )
        except (KeyError, TypeError) as exc:
            raise StorageError(f"{path / 'home.json'} is malformed: {exc}") from exc

    def save(self) -> None:
        """Write ``home.json`` atomically."""
        doc = {
            "format": FORMAT,
            "demo": self.demo,
            "roots": list(self.roots),
            "regions": [r.__dict__ for r in self.regions],
            "authorities": [{**a.__dict__, "licence_types": list(a.licence_types)} for a in self.authorities],
            **self.extra,
        }
        atomic_write(self.path / "home.json", json.dumps(doc, ensure_ascii=False, indent=1).encode())

    # -- reading material ------------------------------------------------------------------

    def certificates(self, rel: str) -> list[x509.Certificate]:
        """Certificates in a PEM file of the home."""
        try:
            return load_pem_certificates((self.path / rel).read_bytes())
        except OSError as exc:
            raise StorageError(f"cannot read {self.path / rel}: {exc.strerror}") from exc

    def passphrase(self) -> bytes:
        """The key passphrase: ``$ELICENSE_PASSPHRASE``, or the demo one for a demo home."""
        value = os.environ.get(PASSPHRASE_ENV)
        if value:
            return value.encode()
        if self.demo:
            return DEMO_PASSPHRASE.encode()
        raise UsageError(
            f"set {PASSPHRASE_ENV} to unlock the signing keys of {self.path}",
            message_zh=f"请设置 {PASSPHRASE_ENV} 以解锁签名私钥",
        )

    def authority(self, code_or_name: str) -> AuthorityEntry:
        """Find an authority by USCC or name."""
        for a in self.authorities:
            if code_or_name in (a.code, a.name):
                return a
        raise UsageError(f"no authority {code_or_name!r} in {self.path}", message_zh=f"未找到发证机关 {code_or_name!r}")

    def authority_for_type(self, type_code: str) -> AuthorityEntry:
        """The first authority that may issue ``type_code``."""
        for a in self.authorities:
            if type_code in a.licence_types:
                return a
        raise UsageError(f"no authority in {self.path} may issue type {type_code}")

    def signer(self, entry: AuthorityEntry) -> Signer:
        """Unlock the authority's signing key (an SM2 signer when its certificate carries an SM2 key)."""
        cert = self.certificates(entry.cert)[0]
        try:
            pem = (self.path / entry.key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read key {self.path / entry.key}: {exc.strerror}") from exc
        chain = tuple(self.certificates(self._region(entry.region).ca_cert))
        if is_sm2_signed(cert):  # SM2 PKI (issue 10): cryptography cannot load SM2 keys
            return make_signer(load_key(pem, self.passphrase(), cert), cert, chain)
        return SoftwareSigner(decrypt_private_key(pem, self.passphrase()), cert, chain)

    def algorithm(self, entry: AuthorityEntry) -> Algorithm:
        """The algorithm the authority signs with (from its certificate; the key stays locked)."""
        return algorithm_of(self.certificates(entry.cert)[0])

    def _region(self, code: str) -> RegionEntry:
        for r in self.regions:
            if r.code == code:
                return r
        raise StorageError(f"home has no region {code}")

    def trust_entries(self) -> list[tuple[TrustedAuthority, Sequence[x509.Certificate]]]:
        """Authorities as trust entries."""
        return [
            (
                TrustedAuthority(a.name, a.code, a.area_code, frozenset(a.licence_types)),
                self.certificates(a.cert),
            )
            for a in self.authorities
        ]

    def root_certificates(self) -> list[x509.Certificate]:
        """All roots."""
        return [c for rel in self.roots for c in self.certificates(rel)]

    def intermediate_certificates(self) -> list[x509.Certificate]:
        """All regional CAs."""
        return [c for r in self.regions for c in self.certificates(r.ca_cert)]

    def trust_store(self) -> TrustStore:
        """A trust store over this home's own PKI (issuer-side checks)."""
        return TrustStore.build(
            roots=self.root_certificates(),
            intermediates=self.intermediate_certificates(),
            authorities=self.trust_entries(),
        )

    def trust_file_bytes(self, *, now: dt.datetime, validity: dt.timedelta = dt.timedelta(days=30)) -> bytes:
        """Serialise this home's trust data as a trust file."""
        return dump_trust_file(
            roots=self.root_certificates(),
            intermediates=self.intermediate_certificates(),
            authorities=self.trust_entries(),
            issued_at=now,
            next_update=now + validity,
        )

    # -- registry (#6) -----------------------------------------------------------------------

    @property
    def registry_url(self) -> str:
        """The registry database: ``home.json``'s ``registry_url``, else ``HOME/registry.sqlite``."""
        from elicense.registry import url_for  # SQLAlchemy: only for commands that open the registry

        return url_for(self)

    def registry(self, db: str | None = None, *, create: bool = True) -> Registry:
        """Open this home's :class:`~elicense.registry.Registry` (``db`` overrides the URL; loads SQLAlchemy)."""
        from elicense.registry import Registry, url_for  # SQLAlchemy: only for commands that open the registry

        return Registry.open(url_for(self, db), create=create)

    # -- holder wallet for presentations (#9) ------------------------------------------------

    def holder_credential(
        self, licence_id: str, *, at: dt.datetime, db: str | None = None
    ) -> tuple[HolderCredential, SoftwareDeviceKey]:
        """The demo holder's (credential, device key) for a licence, made on first use (``elicense present``)."""
        return holder_credential(self, licence_id, at=at, db=db)

    # -- the home's CRLs and publication (what the services above build on) -------------------

    def publication_base(self) -> str:
        """The publication base URL (``home.json`` ``publication.base_url``), with a final ``/``."""
        section = self.extra.get(PUBLICATION)
        url = section.get("base_url") if isinstance(section, dict) else None
        if url is None:
            return DEFAULT_PUBLICATION_BASE
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 512:
            raise UsageError(f"home.json publication.base_url must be an http(s) URL, not {url!r}")
        return url if url.endswith("/") else url + "/"

    @staticmethod
    def root_key_path(cert_rel: str) -> str:
        """Demo homes keep the root key beside the root certificate (``pki/root.pem`` → ``keys/root.key.pem``)."""
        name = Path(cert_rel).name.removesuffix(".pem")
        return f"keys/{name}.key.pem"

    def revoked_certificates(self) -> list[dict[str, Any]]:
        """The home's certificate revocations (``HOME/status/revoked-certificates.json``), as stored."""
        path = self.path / REVOKED_CERTS_FILE
        if not path.exists():
            return []
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc
        if not isinstance(doc, list):
            raise StorageError(f"{path} is malformed")
        return doc

    def crls(self, now: dt.datetime, validity: dt.timedelta, number: int) -> list[x509.CertificateRevocationList]:
        """CRLs of every CA whose key the home holds, in the CA's own suite (ECDSA or SM2), with its revocations."""
        revoked = self.revoked_certificates()
        cas: list[tuple[str, str | None]] = [(rel, None) for rel in self.roots]
        cas += [(r.ca_cert, r.ca_key) for r in self.regions]
        out = []
        for cert_rel, key_rel in cas:
            cert = self.certificates(cert_rel)[0]
            key_path = key_rel or self.root_key_path(cert_rel)
            if not (self.path / key_path).exists():
                continue  # an issuing-only home cannot sign this CA's CRL
            key = load_key((self.path / key_path).read_bytes(), self.passphrase(), cert)
            issuer = cert.subject.rfc4514_string()
            mine = [
                RevokedCert(int(e["serial"]), _parse_time(e["revoked_at"]), e["reason"],
                            _parse_time(e["invalid_since"]) if e.get("invalid_since") else None)
                for e in revoked if e["issuer"] == issuer
            ]  # fmt: skip
            if isinstance(key, Sm2PrivateKey):  # an SM2 CA: cryptography cannot sign it (specs/status-list.md §7)
                der = build_sm2_crl(cert, key, mine, last_update=now, next_update=now + validity, number=number)
                out.append(x509.load_der_x509_crl(der))  # cryptography parses SM2 CRLs; it cannot sign them
            else:
                out.append(build_crl(cert, key, mine, last_update=now, next_update=now + validity, number=number))
        return out

    def entry_crls(self, entry: AuthorityEntry, at: dt.datetime) -> list[bytes]:
        """Fresh CRLs (DER) of the authority's regional CA and of the root, with the home's certificate revocations.

        The same CRLs ``elicense bundle`` publishes (every certificate revoked with ``elicense status
        revoke-cert``), valid from an hour before ``at``: a seal signature's revocation evidence.
        """
        region = self._region(entry.region)
        wanted = {c.subject for c in (*self.certificates(region.ca_cert), *self.root_certificates())}
        since = at.replace(microsecond=0) - dt.timedelta(hours=1)
        crls = self.crls(since, dt.timedelta(days=ENTRY_CRL_DAYS, hours=1), int(since.timestamp()))
        return [c.public_bytes(serialization.Encoding.DER) for c in crls if c.issuer in wanted]


_KNOWN = {"format", "demo", "roots", "regions", "authorities"}


def _parse_time(value: str) -> dt.datetime:
    return require_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def write_pem(path: Path, certificates: Sequence[x509.Certificate]) -> None:
    """Write certificates atomically."""
    atomic_write(path, to_pem(certificates))
