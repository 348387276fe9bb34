"""A verifier's memory of what it has seen: bundle and status-list sequences, across restarts.

A kiosk that once saw status list *N* of an authority must never accept an older
one (*< N*), nor a different list with the same number (equivocation): an
attacker who swaps in last month's bundle would otherwise make a revoked licence
valid again until that old list goes stale. The memory is one small JSON file::

    {"format": "elicense-verifier-state/1",
     "bundle": [sequence, "sha256 hex"] | null,
     "status_lists": {"authority code": [sequence, "sha256 hex"], ...}}

in the state directory (``--state DIR``, else ``$ELICENSE_STATE``). It is written
atomically under an exclusive lock, merging with what is on disk (several kiosk
processes may share it: a number only ever goes up). A missing file is an empty
memory; an unreadable one is an error (never silently forgotten).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from elicense.crypto.keys import atomic_write
from elicense.errors import StorageError, TrustError
from elicense.trust.common import TrustRollback

if TYPE_CHECKING:
    from elicense.status.store import StatusStore
    from elicense.trust.bundle import Bundle
    from elicense.trust.store import TrustStore

FORMAT = "elicense-verifier-state/1"
STATE_FILE = "verifier-state.json"
ENV = "ELICENSE_STATE"
MAX_STATE_BYTES = 1 << 20
MAX_AUTHORITIES = 100_000


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
        return VerifierState(
            self.directory,
            None if bundle is None else _pair(bundle, "bundle"),
            {str(k): _pair(v, f"status list {k}") for k, v in lists.items()},
        )

    def _merge(self, other: VerifierState) -> None:
        if other.bundle is not None and (self.bundle is None or other.bundle[0] > self.bundle[0]):
            self.bundle = other.bundle
        for code, seen in other.status_lists.items():
            mine = self.status_lists.get(code)
            if mine is None or seen[0] > mine[0]:
                self.status_lists[code] = seen

    # -- checks -------------------------------------------------------------------------------

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
        self, *, bundle: tuple[int, str] | None = None, status_lists: Mapping[str, tuple[int, str]] | None = None
    ) -> None:
        """Record what was accepted; merged with the file under a lock, written atomically."""
        update = VerifierState(self.directory, bundle, dict(status_lists or {}))
        with self._locked():
            self._merge(self._read())
            before = (self.bundle, dict(self.status_lists))
            self._merge(update)
            if (self.bundle, self.status_lists) == before and self.path.exists():
                return
            doc: dict[str, Any] = {
                "format": FORMAT,
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
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - non-POSIX: atomic replace only
                pass
            yield


def digest(data: bytes) -> str:
    """SHA-256 hex of a signed bundle's *content* (its COSE payload: a re-signature is not a change)."""
    from elicense.errors import ElicenseError
    from elicense.qr.cose import parse_sign1

    try:
        return hashlib.sha256(parse_sign1(data).payload).hexdigest()
    except ElicenseError:
        return hashlib.sha256(data).hexdigest()


def bundle_status(bundle: Bundle, trust: TrustStore, state: VerifierState) -> StatusStore | None:
    """The bundle's status store, checked against and then recorded in ``state``.

    Raises :class:`TrustRollback` for an older (or equivocating) bundle; a rolled-back
    status list inside a newer bundle makes that authority's licences INDETERMINATE
    (``status_list_rolled_back``) instead.
    """
    state.check_bundle(bundle.sequence, digest(bundle.raw))
    from elicense.trust.bundle import STATUS_SECTION

    raw = bundle.section(STATUS_SECTION)
    store = None
    if raw is not None:
        store = _from_json(raw, trust, state)
    state.remember(bundle=(bundle.sequence, digest(bundle.raw)), status_lists=store.seen() if store else None)
    return store


def section_status(section: object, trust: TrustStore, state: VerifierState) -> StatusStore:
    """A status section (e.g. of a JSON trust file) checked against and recorded in ``state``."""
    from elicense.status.section import from_section

    store = from_section(section, trust, known_sequences=state.known_sequences, known_digests=state.known_digests)
    state.remember(status_lists=store.seen())
    return store


def _from_json(raw: bytes, trust: TrustStore, state: VerifierState) -> StatusStore:
    try:
        section = json.loads(raw)
    except ValueError as exc:
        raise TrustError("trust bundle: status section is not JSON") from exc
    return section_status(section, trust, state)


def check_bundle_update(current: Bundle, new: Bundle) -> None:
    """``trust update``: the new bundle's status lists must not go back per authority."""

    def seen(b: Bundle) -> dict[str, int]:
        from elicense.status.statuslist import parse_status_list
        from elicense.trust.bundle import STATUS_SECTION

        raw = b.section(STATUS_SECTION)
        if raw is None:
            return {}
        from elicense.status.section import _items

        try:
            section = json.loads(raw)
        except ValueError as exc:
            raise TrustError("trust bundle: status section is not JSON") from exc
        out: dict[str, int] = {}
        if not isinstance(section, dict):
            return out
        for item in _items(section, "status_lists"):
            content = parse_status_list(item).content  # authenticity: checked when a verifier loads it
            out[content.issuer] = max(out.get(content.issuer, 0), content.sequence)
        return out

    old, now = seen(current), seen(new)
    for code, seq in old.items():
        if code in now and now[code] < seq:
            raise TrustRollback(
                f"status list of {code} goes back ({seq} → {now[code]}) in the new bundle",
                message_zh=f"新信任数据包中 {code} 的状态列表序号回退（{seq} → {now[code]}），拒绝更新",
            )
