"""An issuer home directory: the PKI, encrypted keys and authorities of one issuing setup.

Layout (``HOME`` = the directory given with ``--home``)::

    HOME/home.json          what is here: roots, regions, authorities, key references
    HOME/pki/*.pem          certificates
    HOME/keys/*.key.pem     private keys, PKCS#8 encrypted with the home passphrase

The passphrase comes from ``$ELICENSE_PASSPHRASE``; a demo home records that it
uses the public demo passphrase (and says so), never a production secret.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from elicense.crypto.algorithms import Algorithm
from elicense.crypto.keys import Signer, SoftwareSigner, atomic_write, decrypt_private_key
from elicense.crypto.pki import is_sm2_signed, load_pem_certificates, to_pem
from elicense.errors import StorageError, UsageError
from elicense.model import Authority
from elicense.trust.store import TrustedAuthority, TrustStore

FORMAT = "elicense-home/1"
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
            from elicense.crypto.suites import load_key, make_signer

            return make_signer(load_key(pem, self.passphrase(), cert), cert, chain)
        return SoftwareSigner(decrypt_private_key(pem, self.passphrase()), cert, chain)

    def algorithm(self, entry: AuthorityEntry) -> Algorithm:
        """The algorithm the authority signs with (from its certificate; the key stays locked)."""
        from elicense.crypto.pki import algorithm_of

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
        from elicense.trust.file import dump_trust_file

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
        from elicense.registry import url_for

        return url_for(self)

    def registry(self, db: str | None = None, *, create: bool = True) -> Any:
        """Open this home's :class:`~elicense.registry.Registry` (``db`` overrides the URL)."""
        from elicense.registry import Registry, url_for

        return Registry.open(url_for(self, db), create=create)

    # -- holder wallet for presentations (#9) ------------------------------------------------

    def holder_credential(self, licence_id: str, *, at: dt.datetime, db: str | None = None) -> Any:
        """The demo holder's (credential, device key) for a licence, made on first use (``elicense present``)."""
        from elicense.present.wallet import holder_credential

        return holder_credential(self, licence_id, at=at, db=db)


_KNOWN = {"format", "demo", "roots", "regions", "authorities"}


def write_pem(path: Path, certificates: Sequence[x509.Certificate]) -> None:
    """Write certificates atomically."""
    atomic_write(path, to_pem(certificates))
