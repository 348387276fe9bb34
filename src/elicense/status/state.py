"""A verifier's memory of what it has seen and trusts: pinned roots, bundle and status-list sequences.

A kiosk that once saw status list *N* of an authority must never accept an older
one (*< N*), nor a different list with the same number (equivocation): an
attacker who swaps in last month's bundle would otherwise make a revoked licence
valid again until that old list goes stale. Nor may a bundle under another national root
replace the trusted one after a restart: the memory pins the root. It is one small JSON file::

    {"format": "elicense-verifier-state/1",
     "anchors": ["sha256 hex of a root certificate (DER)", ...],
     "bundle": [sequence, "sha256 hex"] | null,
     "status_lists": {"authority code": [sequence, "sha256 hex"], ...}}

in the state directory (``--state DIR``, else ``$ELICENSE_STATE``; the kiosk has a default,
:func:`kiosk_state_dir`). ``anchors`` is empty until the first bundle is accepted (trust on
first use); from then on a bundle is accepted only if its root history contains a pinned root,
and the pin follows the root the accepted bundle is signed under (rotation by cross-certificate).
Only ``elicense trust pin`` replaces the pin. The file is written only after a bundle is fully
authenticated, atomically under an exclusive lock, merging with what is on disk (several kiosk
processes may share it: a number only ever goes up, and the anchors travel with the newest
bundle). A missing file is an empty memory; an unreadable one is an error (never silently forgotten).

This module is the memory's file only; when it is consulted and updated is decided by
:class:`elicense.trust_state.TrustedState`. Direction: ``status`` uses ``trust`` (its errors, the
bundle type), never the reverse.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from elicense.crypto.keys import atomic_write
from elicense.crypto.pki import common_name_of
from elicense.errors import ElicenseError, StorageError
from elicense.qr.cose import parse_sign1
from elicense.trust.common import TrustNotPinned, TrustRollback

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX: atomic replace only
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from elicense.trust.bundle import Bundle

FORMAT = "elicense-verifier-state/1"
STATE_FILE = "verifier-state.json"
ENV = "ELICENSE_STATE"
MAX_STATE_BYTES = 1 << 20
MAX_AUTHORITIES = 100_000
MAX_ANCHORS = 16


def resolve(state: str | Path | None) -> Path | None:
    """The state directory: ``state`` if given, else ``$ELICENSE_STATE``, else none (no memory)."""
    if state is not None and str(state):
        return Path(state)
    env = os.environ.get(ENV)
    return Path(env) if env else None


def _pair(value: object, what: str) -> tuple[int, str]:
    if (
        not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], int)
        or isinstance(value[0], bool) or value[0] < 0 or not isinstance(value[1], str) or len(value[1]) > 64
    ):  # fmt: skip
        raise StorageError(f"verifier state: {what} must be [sequence, sha256]", message_zh="核验端状态文件格式错误")
    return value[0], value[1]


@dataclass
class VerifierState:
    """The memory in one state directory (load with :meth:`load`, update with :meth:`remember`)."""

    directory: Path
    """Where ``verifier-state.json`` lives."""
    bundle: tuple[int, str] | None = None
    """Highest bundle sequence seen, with the SHA-256 of that bundle."""
    status_lists: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Authority code → highest status-list sequence seen, with the SHA-256 of that list."""
    anchors: tuple[str, ...] = ()
    """Pinned roots (SHA-256 hex of each certificate's DER); empty until the first bundle is accepted."""

    @property
    def path(self) -> Path:
        """The state file."""
        return self.directory / STATE_FILE

    @classmethod
    def load(cls, directory: str | Path) -> VerifierState:
        """Read the memory (empty when the file does not exist yet)."""
        state = cls(Path(directory))
        state._merge(state._read())
        return state

    def _read(self) -> VerifierState:
        try:
            with self.path.open("rb") as fh:
                data = fh.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return VerifierState(self.directory)
        except OSError as exc:
            raise StorageError(f"cannot read verifier state {self.path}: {exc.strerror}",
                               message_zh=f"无法读取核验端状态文件 {self.path}") from exc  # fmt: skip
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise StorageError(f"verifier state {self.path} is not JSON", message_zh="核验端状态文件损坏") from exc
        if len(data) > MAX_STATE_BYTES or not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StorageError(f"verifier state {self.path} is not {FORMAT}", message_zh="核验端状态文件格式错误")
        lists = doc.get("status_lists", {})
        if not isinstance(lists, dict) or len(lists) > MAX_AUTHORITIES:
            raise StorageError("verifier state: status_lists must be a map", message_zh="核验端状态文件格式错误")
        bundle = doc.get("bundle")
        anchors = doc.get("anchors", [])
        if (
            not isinstance(anchors, list)
            or len(anchors) > MAX_ANCHORS
            or not all(isinstance(a, str) and len(a) == 64 for a in anchors)
        ):
            raise StorageError("verifier state: anchors must be a list of SHA-256 hex strings",
                               message_zh="核验端状态文件格式错误")  # fmt: skip
        return VerifierState(
            self.directory,
            None if bundle is None else _pair(bundle, "bundle"),
            {str(k): _pair(v, f"status list {k}") for k, v in lists.items()},
            tuple(anchors),
        )

    def _merge(self, other: VerifierState) -> None:
        newer = other.bundle is not None and (self.bundle is None or other.bundle[0] > self.bundle[0])
        if other.anchors and (newer or not self.anchors):  # the pin travels with the newest bundle
            self.anchors = other.anchors
        if newer:
            self.bundle = other.bundle
        for code, seen in other.status_lists.items():
            mine = self.status_lists.get(code)
            if mine is None or seen[0] > mine[0]:
                self.status_lists[code] = seen

    # -- checks -------------------------------------------------------------------------------

    def check_root(self, bundle: Bundle) -> None:
        """Refuse a bundle whose root history holds no pinned root (none pinned yet: trust on first use)."""
        if not self.anchors or any(fingerprint(e.root) in self.anchors for e in bundle.roots):
            return
        raise TrustNotPinned(
            f"trust bundle #{bundle.sequence} is signed under root {common_name_of(bundle.current_root)} "
            f"(sha256 {fingerprint(bundle.current_root)[:16]}…), not the root pinned in {self.path}: refused "
            f"(an operator re-pins with 'elicense trust pin BUNDLE --state {self.directory}')",
            message_zh=f"信任数据包 #{bundle.sequence} 的根证书不是本机已固定的信任根，拒绝加载"
            f"（如确需更换，请由管理员执行 elicense trust pin）",
            details={"pinned": list(self.anchors), "root": fingerprint(bundle.current_root)},
        )

    def check_bundle(self, sequence: int, digest: str) -> None:
        """Refuse a bundle older than one seen, or a different one with the same sequence."""
        if self.bundle is None:
            return
        seq, known = self.bundle
        if sequence < seq or (sequence == seq and digest != known):
            what = "older than" if sequence < seq else "different from"
            raise TrustRollback(
                f"trust bundle #{sequence} is {what} bundle #{seq} this verifier has already seen "
                f"(state {self.path}): refusing a rollback",
                message_zh=f"信任数据包 #{sequence} 早于或不同于本机已见过的 #{seq}，拒绝回滚",
            )

    @property
    def known_sequences(self) -> dict[str, int]:
        """Authority code → highest list sequence seen (for ``StatusStore.build``)."""
        return {code: seq for code, (seq, _) in self.status_lists.items()}

    @property
    def known_digests(self) -> dict[str, str]:
        """Authority code → digest of the list seen at that sequence."""
        return {code: digest for code, (_, digest) in self.status_lists.items()}

    # -- update -------------------------------------------------------------------------------

    def remember(
        self,
        *,
        bundle: tuple[int, str] | None = None,
        status_lists: Mapping[str, tuple[int, str]] | None = None,
        anchors: tuple[str, ...] = (),
    ) -> None:
        """Record what was accepted (call only once it is fully authenticated); merged under a lock, atomic."""
        update = VerifierState(self.directory, bundle, dict(status_lists or {}), anchors)
        with self._locked():
            self._merge(self._read())
            before = (self.bundle, dict(self.status_lists), self.anchors)
            self._merge(update)
            if (self.bundle, self.status_lists, self.anchors) == before and self.path.exists():
                return
            self._write()

    def pin(self, bundle: Bundle) -> tuple[str, ...]:
        """Pin ``bundle``'s current root and sequence, replacing the pin (an operator's explicit act).

        ``bundle`` must already be authenticated by the caller. Status-list memory is kept (its
        numbers only go up). Returns the anchors pinned before.
        """
        with self._locked():
            on_disk = self._read()
            self.status_lists = dict(on_disk.status_lists)
            previous = on_disk.anchors
            self.anchors = (fingerprint(bundle.current_root),)
            self.bundle = (bundle.sequence, digest(bundle.raw))
            self._write()
        return previous

    def _write(self) -> None:
        doc: dict[str, object] = {
            "format": FORMAT,
            "anchors": list(self.anchors),
            "bundle": list(self.bundle) if self.bundle else None,
            "status_lists": {k: list(v) for k, v in sorted(self.status_lists.items())},
        }
        atomic_write(self.path, json.dumps(doc, indent=1).encode("utf-8"))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fh = (self.directory / (STATE_FILE + ".lock")).open("a")
        except OSError as exc:
            raise StorageError(f"cannot write verifier state in {self.directory}: {exc.strerror}",
                               message_zh=f"无法写入核验端状态目录 {self.directory}") from exc  # fmt: skip
        with fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            yield


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 hex of a certificate's DER (how a pinned root is remembered)."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def kiosk_state_dir(trust: str | Path, state: str | Path | None = None) -> Path:
    """The kiosk's state directory: ``state``, else ``$ELICENSE_STATE``, else a default per trust file.

    The default lives under the user's state directory, not beside the trust file (whoever may
    replace the trust file must not be able to reset what it pinned):
    ``$XDG_STATE_HOME/elicense/kiosk/<first 16 hex of SHA-256 of the trust file's absolute path>``
    (``$XDG_STATE_HOME`` defaults to ``~/.local/state``).
    """
    chosen = resolve(state)
    if chosen is not None:
        return chosen
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    key = hashlib.sha256(str(Path(trust).expanduser().absolute()).encode("utf-8")).hexdigest()[:16]
    return Path(base) / "elicense" / "kiosk" / key


def digest(data: bytes) -> str:
    """SHA-256 hex of a signed bundle's *content* (its COSE payload: a re-signature is not a change)."""
    try:
        return hashlib.sha256(parse_sign1(data).payload).hexdigest()
    except ElicenseError:
        return hashlib.sha256(data).hexdigest()
