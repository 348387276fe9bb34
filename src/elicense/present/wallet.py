"""The demo holder app's wallet, kept inside an issuer home (``elicense present ID --home DIR``).

A real holder app keeps its device key in the phone's keystore and receives the
credential from the issuer. For the CLI and demos the home plays both parts: on
the first presentation of a licence it generates a device key (encrypted with the
home passphrase), has the licence's authority sign an MSO binding it, records that
signing in the audit log, and stores both atomically::

    HOME/holder/<licence id>.json      the holder credential (MSO, salts, values)
    HOME/holder/<licence id>.key.pem   the device key (PKCS#8, encrypted, 0600)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from elicense.crypto.keys import atomic_write, decrypt_private_key, write_private_key
from elicense.errors import PayloadError, StorageError, UsageError
from elicense.identifiers import LicenceId
from elicense.model import require_utc
from elicense.present.presentation import SoftwareDeviceKey
from elicense.qr.mso import HolderCredential, encode_device_key, issue_holder_credential
from elicense.registry import Registry, url_for

if TYPE_CHECKING:
    from pathlib import Path

    from elicense.crypto.keys import Signer

HOLDER_DIR = "holder"
MAX_CREDENTIAL_BYTES = 256 * 1024
ACTION = "licence.holder_credential"
"""Audit action recorded when an MSO is signed for a holder device key."""

E = TypeVar("E")


class WalletHome(Protocol[E]):
    """What the wallet needs of an issuer home (:class:`elicense.home.Home` is one; ``E`` its authority entry).

    A protocol, so that the wallet (a carrier's helper) does not import the home above it.
    """

    @property
    def path(self) -> Path:
        """The home directory."""
        ...

    def passphrase(self) -> bytes:
        """Unlocks the home's keys."""
        ...

    def authority(self, code_or_name: str) -> E:
        """An authority of the home by USCC or name."""
        ...

    def signer(self, entry: E) -> Signer:
        """The authority's signer."""
        ...


def _paths(home: WalletHome[E], licence_id: str) -> tuple[Path, Path]:
    base = home.path / HOLDER_DIR
    return base / f"{licence_id}.json", base / f"{licence_id}.key.pem"


def holder_credential(
    home: WalletHome[E], licence_id: str, *, at: dt.datetime, db: str | None = None, actor: str = "elicense-present"
) -> tuple[HolderCredential, SoftwareDeviceKey]:
    """The credential and device key for ``licence_id``: loaded, or made on first use."""
    lid = str(LicenceId.parse(licence_id.strip()))  # IdentifierError on a malformed id
    cred_path, key_path = _paths(home, lid)
    if cred_path.exists() and key_path.exists():
        return _load(home, cred_path, key_path)
    return _issue(home, lid, cred_path, key_path, at=require_utc(at, "at"), db=db, actor=actor)


def _load(home: WalletHome[E], cred_path: Path, key_path: Path) -> tuple[HolderCredential, SoftwareDeviceKey]:
    try:
        data = cred_path.read_bytes()
        pem = key_path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read holder credential {cred_path}: {exc.strerror}") from exc
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise StorageError(f"{cred_path} is too large")
    try:
        credential = HolderCredential.from_json(json.loads(data))
    except (ValueError, PayloadError) as exc:
        raise StorageError(f"{cred_path} is not a holder credential: {exc}", message_zh="持证人凭据文件损坏") from exc
    key = decrypt_private_key(pem, home.passphrase())
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise StorageError(f"{key_path} is not a device key")
    device = SoftwareDeviceKey(key)
    if encode_device_key(device.public_key)[1] != credential.device_public_key:
        raise StorageError(f"{key_path} does not match the credential's device key", message_zh="设备密钥与凭据不匹配")
    return credential, device


def _issue(
    home: WalletHome[E], lid: str, cred_path: Path, key_path: Path, *, at: dt.datetime, db: str | None, actor: str
) -> tuple[HolderCredential, SoftwareDeviceKey]:

    registry = Registry.open(url_for(home, db), create=False)
    try:
        record = registry.get(lid)
        if record is None:
            raise UsageError(f"no licence {lid} in the registry of {home.path}", message_zh=f"证照库中没有证照 {lid}")
        issued = record.to_issued()
        signer = home.signer(home.authority(record.authority_code))
        device = SoftwareDeviceKey.generate()
        credential = issue_holder_credential(issued.licence, signer, device.public_key, at=at)
        with registry.transaction() as conn:  # the audit entry commits only if both files were written
            registry.audit(
                conn, action=ACTION, subject=lid, actor=actor, at=at.replace(microsecond=0),
                details={"device_public_key": credential.device_public_key.hex(), "elements": len(credential.elements)},
            )  # fmt: skip
            # Key first, then the credential that refers to it: a crash in between leaves no
            # credential, and the next presentation starts over.
            write_private_key(key_path, device.private_key, home.passphrase())
            atomic_write(cred_path, json.dumps(credential.to_json(), ensure_ascii=False).encode("utf-8"), mode=0o600)
    finally:
        registry.close()
    return credential, device
