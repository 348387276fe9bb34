"""The one owner of a verifier's trust state: what trust is loaded, in which order, and what may replace it.

Like python-tuf's ``TrustedMetadataSet``, every path that loads or replaces trust goes
through :class:`TrustedState`: ``Verifier.from_trust_file`` / ``from_bundle`` (``elicense
verify --trust``), ``elicense trust update``, ``trust pin``, ``trust show`` and the kiosk's
reload. The rules, in the order they are applied:

1. **authenticity**: the bundle's signature and root history, under the caller's anchors
   (:func:`elicense.trust.bundle.load_bundle`);
2. **the trust store**: every authority chain validated once, within its own region;
3. **root pinning and rollback**: against the verifier's memory (:mod:`elicense.status.state`,
   the ``--state`` directory), a bundle not under the pinned root raises ``TrustNotPinned``,
   an older or equivocating one ``TrustRollback``; an update must also not take the bundle,
   any list in it, or any status list back (:meth:`TrustedState.check_update`);
4. **status binding**: the status section (:mod:`elicense.status.section`) is verified with
   that trust store (each list bound to the trust entry whose key signed it); a status list
   older than one remembered makes its authority INDETERMINATE;
5. **memory**: only then is what was accepted remembered (and the root pinned);
6. **freshness**: the earliest next-update over every dated part (:meth:`TrustedState.parts`).

Direction of dependency: this module sits above :mod:`elicense.trust` (trust lists, the
bundle format, the trust store) and :mod:`elicense.status` (status lists and CRLs, verified
with a trust store, and the verifier's memory). ``status`` imports ``trust``; ``trust``
imports neither ``status`` nor this module. Light: the text verify path loads it (no lxml).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from elicense.crypto.keys import atomic_write
from elicense.crypto.pki import common_name_of
from elicense.errors import TrustError
from elicense.status.section import SECTION_KEY, from_section, section_items
from elicense.status.state import VerifierState, digest, fingerprint, kiosk_state_dir, resolve
from elicense.status.statuslist import parse_status_list
from elicense.status.store import StatusStore
from elicense.trust import bundle as bundles
from elicense.trust.bundle import COSE_TAG_PREFIX, MAX_BUNDLE_BYTES, STATUS_SECTION, Bundle
from elicense.trust.common import TrustRollback, read_limited
from elicense.trust.file import MAX_TRUST_FILE, parse_trust_file
from elicense.trust.freshness import Part
from elicense.trust.store import TrustStore

if TYPE_CHECKING:
    from cryptography import x509

    from elicense.crypto.algorithms import AlgorithmPolicy


@dataclass(frozen=True)
class TrustedState:
    """Trust a verifier may use: the trust store, its bound status, the bundle it came from.

    Build with :meth:`load` (a trust file or a bundle on disk) or :meth:`of_bundle`.
    """

    trust: TrustStore
    """Trusted authorities and their validated chains."""
    status: StatusStore | None = None
    """Status lists and CRLs verified with :attr:`trust` (``None``: the trust data carries none, or not read)."""
    bundle: Bundle | None = None
    """The signed offline bundle the trust came from (``None`` for a JSON trust file)."""
    state_dir: Path | None = None
    """The verifier-memory directory it was checked against (pinned root, sequences), for reloads."""

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        anchors: Sequence[x509.Certificate] | None = None,
        algorithms: AlgorithmPolicy | None = None,
        state: str | Path | None = None,
        status: bool = True,
    ) -> TrustedState:
        """Load a trust file or a signed bundle (told apart by its first byte).

        ``anchors``: roots already trusted (bundles; without them the bundle's own first root).
        ``state``: the verifier's memory (default ``$ELICENSE_STATE``). ``status=False``: the
        caller brings its own status source — a JSON trust file's section is then not read, while a
        bundle's is still checked against the memory and remembered (a rollback is refused anyway).
        """
        data = read_limited(Path(path), max(MAX_BUNDLE_BYTES, MAX_TRUST_FILE), "trust file", "信任文件")
        if data[:1] == COSE_TAG_PREFIX:  # a signed offline bundle (trust-bundle.cose)
            b = bundles.load_bundle(data, anchors=anchors, algorithms=algorithms)
            return cls.of_bundle(b, state=state, status=status)
        return cls._of_trust_file(data, state=state, status=status)

    @classmethod
    def _of_trust_file(cls, data: bytes, *, state: str | Path | None, status: bool) -> TrustedState:
        """A JSON trust file (unsigned: its integrity is the file's); its status section against the memory."""
        trust = parse_trust_file(data)
        store = None
        doc = json.loads(data) if status else None  # parse_trust_file accepted it: JSON
        if isinstance(doc, dict) and SECTION_KEY in doc:
            memory = resolve(state)
            if memory is None:
                store = from_section(doc[SECTION_KEY], trust)
            else:
                remembered = VerifierState.load(memory)
                store = from_section(
                    doc[SECTION_KEY], trust, known_sequences=remembered.known_sequences,
                    known_digests=remembered.known_digests,
                )  # fmt: skip
                remembered.remember(status_lists=store.seen())
        return cls(trust, store, None, Path(state) if state else None)

    @classmethod
    def of_bundle(cls, bundle: Bundle, *, state: str | Path | None = None, status: bool = True) -> TrustedState:
        """Trust from an authenticated ``bundle``: chains, then pin and rollback, then status, then remember.

        Raises ``TrustNotPinned`` for a bundle not under the pinned root and ``TrustRollback`` for
        an older (or equivocating) one, before anything is written.
        """
        trust = bundle.trust_store()
        memory = resolve(state)
        if memory is None:
            return cls(trust, _bundle_status(bundle, trust) if status else None, bundle, None)
        remembered = VerifierState.load(memory)
        remembered.check_root(bundle)
        remembered.check_bundle(bundle.sequence, digest(bundle.raw))
        store = _bundle_status(bundle, trust, remembered)
        remembered.remember(
            bundle=(bundle.sequence, digest(bundle.raw)),
            status_lists=store.seen() if store else None,
            anchors=(fingerprint(bundle.current_root),),
        )
        return cls(trust, store, bundle, memory)

    @classmethod
    def inspect(cls, bundle: Bundle) -> TrustedState:
        """Trust and status as ``bundle`` carries them, not checked against or kept in a memory (``trust show``)."""
        trust = bundle.trust_store()
        return cls(trust, _bundle_status(bundle, trust), bundle, None)

    # -- replacing ----------------------------------------------------------------------------

    @staticmethod
    def check_update(current: Bundle, new: Bundle) -> None:
        """Refuse a rollback: the bundle, every list and every status list it carries must not go back."""
        bundles.check_update(current, new)
        old, now = _status_sequences(current), _status_sequences(new)
        for code, seq in old.items():
            if code in now and now[code] < seq:
                raise TrustRollback(
                    f"status list of {code} goes back ({seq} → {now[code]}) in the new bundle",
                    message_zh=f"新信任数据包中 {code} 的状态列表序号回退（{seq} → {now[code]}），拒绝更新",
                )

    @classmethod
    def check_replacement(
        cls, old: Bundle | None, new: Bundle | None, *, algorithms: AlgorithmPolicy | None = None
    ) -> None:
        """What ``elicense trust update`` checks, for a file copied over the installed one (the kiosk).

        A JSON trust file (``old`` is ``None``) may be replaced by anything that loads; an installed
        bundle only by a bundle authentic under its current root and newer.
        """
        if old is None:
            return
        if new is None:
            raise TrustError("the replacement is not a signed trust bundle", message_zh="替换文件不是签名的信任数据包")
        bundles.load_bundle(new.raw, anchors=[old.current_root], algorithms=algorithms)  # SM2 homes too
        cls.check_update(old, new)

    @classmethod
    def update_file(
        cls,
        current_path: Path,
        new_path: Path,
        *,
        state: str | Path | None = None,
        algorithms: AlgorithmPolicy | None = None,
    ) -> Bundle:
        """Replace ``current_path`` with ``new_path`` if NEW is authentic under CURRENT's anchors and newer.

        On any refusal CURRENT is untouched (atomic replace). ``state`` (default
        ``$ELICENSE_STATE``): the verifier's memory, whose pinned root NEW must be under and
        which must not have seen a newer bundle; it then records this one (and pins its root).
        """
        current = bundles.read_bundle_file(current_path, algorithms=algorithms)
        try:
            new_data = new_path.read_bytes()[: MAX_BUNDLE_BYTES + 1]
        except OSError as exc:
            raise TrustError(f"cannot read {new_path}: {exc.strerror}") from exc
        new = bundles.load_bundle(new_data, anchors=[current.current_root], deep=True, algorithms=algorithms)
        new.trust_store()  # what a verifier checks at load (chains within their regions) before it is installed
        cls.check_update(current, new)
        memory = resolve(state)
        remembered = VerifierState.load(memory) if memory is not None else None
        if remembered is not None:
            remembered.check_root(new)
            remembered.check_bundle(new.sequence, digest(new_data))
        atomic_write(current_path, new_data)
        if remembered is not None:
            remembered.remember(bundle=(new.sequence, digest(new_data)), anchors=(fingerprint(new.current_root),))
        return new

    @staticmethod
    def pin(bundle: Bundle, bundle_path: Path, state: str | Path | None = None) -> tuple[Path, tuple[str, ...]]:
        """Pin an authenticated ``bundle``'s root (``elicense trust pin``): ``(state directory, previous pins)``.

        The operator's explicit act; the bundle must load as every verifier loads it first.
        """
        bundle.trust_store()  # what every load checks (chains within their regions): never pin what would not load
        directory = kiosk_state_dir(bundle_path, state)
        return directory, VerifierState.load(directory).pin(bundle)

    # -- freshness ----------------------------------------------------------------------------

    def parts(self) -> list[Part]:
        """Every dated part, earliest first: the bundle, its lists, the status lists and CRLs (#20)."""
        return dated_parts(self.bundle, self.status, self.trust)


def dated_parts(bundle: Bundle | None, status: object | None, trust: TrustStore | None = None) -> list[Part]:
    """Every dated part, earliest first (``status``: a :class:`StatusStore`; other status sources have none)."""
    out: list[Part] = []
    if bundle is not None:
        out.append(Part("bundle", f"#{bundle.sequence}", bundle.next_update))
        out.append(Part("national_list", bundle.national.operator, bundle.national.next_update))
        out += [Part("region_list", code, s.next_update) for code, s in sorted(bundle.regions.items())]
    elif trust is not None and trust.next_update is not None:
        out.append(Part("bundle", "trust file", trust.next_update))
    if isinstance(status, StatusStore):
        out += [Part("status_list", code, lst.next_update) for code, lst in sorted(status.lists.items())]
        for crl in status.crls:
            try:
                name = common_name_of(crl.issuer)
            except Exception:  # a CA without a common name: its position is enough
                name = "CA"
            out.append(Part("crl", name, crl.next_update))
    return sorted(out, key=lambda p: p.next_update)


def _status_section(bundle: Bundle) -> object | None:
    raw = bundle.section(STATUS_SECTION)
    if raw is None:
        return None
    try:
        section: object = json.loads(raw)
    except ValueError as exc:
        raise TrustError("trust bundle: status section is not JSON") from exc
    return section


def _bundle_status(bundle: Bundle, trust: TrustStore, memory: VerifierState | None = None) -> StatusStore | None:
    """The bundle's status section bound to ``trust`` (and to the sequences ``memory`` saw)."""
    section = _status_section(bundle)
    if section is None:
        return None
    if memory is None:
        return from_section(section, trust)
    return from_section(section, trust, known_sequences=memory.known_sequences, known_digests=memory.known_digests)


def _status_sequences(bundle: Bundle) -> dict[str, int]:
    """Authority code → highest status-list sequence the bundle carries (authenticity: checked at load)."""
    section = _status_section(bundle)
    out: dict[str, int] = {}
    if not isinstance(section, dict):
        return out
    for item in section_items(section, "status_lists"):
        content = parse_status_list(item).content
        out[content.issuer] = max(out.get(content.issuer, 0), content.sequence)
    return out
