"""Signed bitstring status lists: build, sign, parse (bounded), verify, look up.

Format (normative: ``specs/status-list.md``): a COSE_Sign1 (same narrow profile
as the QR payload, signed with the issuing authority's own licence-signing
key) over a deterministic CBOR map::

    {"typ": "elicense-status-list/1", "iss": authority code, "seq": uint,
     "iat": issued (unix s), "nxt": next update (unix s), "size": entries,
     "lst": gzip(2-bit bitstring, entry 0 in the two most significant bits),
     "det": {index: [reason number, effective (unix s), successor id | null]}}

Decoding is bounded before it allocates: the message size is capped, the
declared ``size`` is capped, and the bitstring must decompress to *exactly*
``size / 4`` bytes — a gzip bomb cannot get further than that (a ratio bound
would not do: a list of a million valid entries legitimately compresses 1000:1).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from elicense.basics import require_utc
from elicense.crypto.algorithms import Algorithm
from elicense.crypto.keys import Signer, key_id
from elicense.errors import ElicenseError, PayloadError, UsageError
from elicense.qr import cbor
from elicense.qr.cose import CoseSign1, parse_sign1, sign1
from elicense.status.reasons import DEFAULT_REASON, REASONS_BY_NUMBER, ListState, RevocationReason

TYPE = "elicense-status-list/1"
BITS = 2
MIN_ENTRIES = 131_072
"""Herd privacy (W3C Bitstring Status List): at least 2^17 entries."""
MAX_ENTRIES = 1 << 24
"""16,777,216 entries = 4 MiB of bitstring: the hard cap on what a verifier inflates."""
MAX_MESSAGE = 8 * 1024 * 1024
"""Largest signed status list accepted (compressed list + details)."""
MAX_DETAILS = 1 << 20
"""Most detail records a list may carry."""
DEFAULT_VALIDITY = dt.timedelta(days=7)
"""Default next update: a week (the spec's upper bound for the default)."""
MAX_VALIDITY = dt.timedelta(days=31)
"""Lists claiming to stay fresh longer than this are refused."""
MAX_SUCCESSOR = 128
_STATES = tuple(ListState)  # indexing a tuple is ~10x faster than calling the enum


class StatusListError(ElicenseError):
    """A status list is malformed, oversized, or does not verify."""

    code = "status_list"


@dataclass(frozen=True)
class EntryDetail:
    """Why an entry is not valid, and since when."""

    reason: RevocationReason
    """Reason (吊销, 注销, 暂扣, 换发, ...)."""
    since: dt.datetime | None
    """Effective time; ``None`` when the issuer did not say (then it always applies)."""
    successor: str | None = None
    """Successor licence id, for a superseded entry."""


@dataclass(frozen=True)
class StatusList:
    """A decoded status list (verified or not: see :class:`SignedStatusList`)."""

    issuer: str
    """Issuing authority code (USCC or area code) the list is for."""
    sequence: int
    """Monotonic sequence number: a lower one than already seen is a rollback."""
    issued_at: dt.datetime
    """When the list was produced (UTC)."""
    next_update: dt.datetime
    """After this the list is stale: results become INDETERMINATE."""
    size: int
    """Number of entries."""
    bits: bytes = field(repr=False)
    """Decompressed bitstring, ``size // 4`` bytes."""
    details: Mapping[int, EntryDetail] = field(default_factory=dict, repr=False)
    """Details of non-valid entries, by index."""

    def state(self, index: int) -> ListState:
        """The 2-bit state of entry ``index`` (IndexError beyond ``size``)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        return _STATES[(self.bits[index >> 2] >> (6 - ((index & 3) << 1))) & 3]

    def detail(self, index: int) -> EntryDetail | None:
        """Detail for a non-valid entry (default reason when the list gives none)."""
        state = self.state(index)
        if state is ListState.VALID:
            return None
        found = self.details.get(index)
        return found if found is not None else EntryDetail(DEFAULT_REASON[state], None)

    def is_stale(self, at: dt.datetime) -> bool:
        """Whether ``at`` is past the next update."""
        return at > self.next_update

    def counts(self) -> dict[str, int]:
        """How many entries are in each non-valid state (for reports)."""
        tally = [0, 0, 0, 0]
        for byte in self.bits:
            if byte:
                tally[byte >> 6] += 1
                tally[(byte >> 4) & 3] += 1
                tally[(byte >> 2) & 3] += 1
                tally[byte & 3] += 1
        return {s.name.lower(): tally[s] for s in ListState if s is not ListState.VALID}


@dataclass(frozen=True)
class SignedStatusList:
    """A parsed status list with its signature still to be checked."""

    message: CoseSign1
    """The COSE message (kid, algorithm, signature)."""
    content: StatusList
    """The decoded content."""
    raw: bytes = field(repr=False)
    """The exact bytes (what a bundle carries)."""


# -- bitstring ---------------------------------------------------------------------------------


def pack(states: Mapping[int, ListState], size: int) -> bytes:
    """The raw 2-bit bitstring for ``size`` entries, non-valid ones given by index."""
    _check_size(size, UsageError)
    out = bytearray(size >> 2)
    for index, state in states.items():
        if not 0 <= index < size:
            raise UsageError(f"status index {index} outside a list of {size}")
        shift = 6 - ((index & 3) << 1)
        byte = out[index >> 2] & ~(3 << shift)
        out[index >> 2] = byte | (int(state) << shift)
    return bytes(out)


def compress(bits: bytes) -> bytes:
    """gzip with a fixed mtime, so the same list always gives the same bytes."""
    import gzip  # issuing only: verifying inflates with zlib (cold start, #8)

    return gzip.compress(bits, compresslevel=9, mtime=0)


def decompress(data: bytes, expected: int) -> bytes:
    """Inflate a gzip member to exactly ``expected`` bytes, or refuse."""
    inflater = zlib.decompressobj(wbits=31)  # gzip framing only
    try:
        out = inflater.decompress(data, expected + 1)
    except zlib.error as exc:
        raise StatusListError(f"status bitstring is not valid gzip: {exc}", message_zh="状态列表解压失败") from exc
    if len(out) != expected or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise StatusListError(
            f"status bitstring does not inflate to exactly {expected} bytes",
            message_zh="状态列表解压后长度不符",
            details={"attack": "decompression"},
        )
    return out


def _check_size(size: object, error: type[ElicenseError]) -> int:
    if (
        not isinstance(size, int) or isinstance(size, bool)
        or not MIN_ENTRIES <= size <= MAX_ENTRIES or size % 8
    ):  # fmt: skip
        raise error(
            f"status list size must be a multiple of 8 between {MIN_ENTRIES} and {MAX_ENTRIES}",
            message_zh="状态列表长度不符合规范",
        )
    return size


# -- build and sign ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One non-valid entry to put in a list."""

    index: int
    """Status index."""
    state: ListState
    """Its state."""
    reason: RevocationReason | None = None
    """Reason; defaults by state."""
    since: dt.datetime | None = None
    """Effective time."""
    successor: str | None = None
    """For superseded entries."""


def _ts(when: dt.datetime) -> int:
    return int(require_utc(when).timestamp())


def encode_content(
    *,
    issuer: str,
    sequence: int,
    issued_at: dt.datetime,
    next_update: dt.datetime,
    size: int,
    entries: Iterable[Entry],
) -> bytes:
    """Canonical CBOR of a status list's content (what gets signed)."""
    _check_size(size, UsageError)
    issued_at, next_update = require_utc(issued_at, "issued_at"), require_utc(next_update, "next_update")
    if not dt.timedelta(0) < next_update - issued_at <= MAX_VALIDITY:
        raise UsageError(f"next update must lie within {MAX_VALIDITY.days} days after issue")
    if not isinstance(sequence, int) or not 0 <= sequence < 2**63:
        raise UsageError("sequence must be a non-negative integer")
    states: dict[int, ListState] = {}
    details: dict[int, list[Any]] = {}
    for e in entries:
        if e.state is ListState.VALID:
            continue
        if e.index in states:
            raise UsageError(f"status index {e.index} given twice (index collision)")
        why = e.reason or DEFAULT_REASON[e.state]
        if why.state is not e.state:
            raise UsageError(f"reason {why.key} does not fit state {e.state.name}")
        if e.successor is not None and (e.state is not ListState.SUPERSEDED or len(e.successor) > MAX_SUCCESSOR):
            raise UsageError("only superseded entries name a (short) successor")
        states[e.index] = e.state
        if why is not DEFAULT_REASON[e.state] or e.since is not None or e.successor is not None:
            details[e.index] = [why.number, None if e.since is None else _ts(e.since), e.successor]
    bits = pack(states, size)
    return cbor.dumps({
        "typ": TYPE, "iss": issuer, "seq": sequence, "iat": _ts(issued_at), "nxt": _ts(next_update),
        "size": size, "lst": compress(bits), "det": details,
    })  # fmt: skip


def sign_status_list(
    signer: Signer,
    *,
    issuer: str,
    sequence: int,
    issued_at: dt.datetime,
    entries: Iterable[Entry],
    size: int = MIN_ENTRIES,
    next_update: dt.datetime | None = None,
) -> bytes:
    """A signed status list (COSE_Sign1 bytes) for authority ``issuer``."""
    issued_at = require_utc(issued_at, "issued_at").replace(microsecond=0)
    content = encode_content(
        issuer=issuer, sequence=sequence, issued_at=issued_at,
        next_update=next_update or issued_at + DEFAULT_VALIDITY, size=size, entries=entries,
    )  # fmt: skip
    return sign1(content, signer, key_id(signer.certificate))


# -- parse -------------------------------------------------------------------------------------

_KEYS = frozenset({"typ", "iss", "seq", "iat", "nxt", "size", "lst", "det"})


def _uint(value: object, what: str, limit: int = 2**63) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise StatusListError(f"status list {what} must be a non-negative integer", message_zh="状态列表字段格式错误")
    return value


def _time(value: object, what: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(_uint(value, what, 2**40), dt.UTC)


def decode_content(data: bytes) -> StatusList:
    """Decode (and bound) a status list's CBOR content; no signature check here."""
    try:
        doc = cbor.loads(data, max_depth=4)
    except PayloadError as exc:
        raise StatusListError(f"status list is not valid CBOR: {exc.message}", message_zh="状态列表格式错误") from exc
    if not isinstance(doc, dict) or set(doc) != _KEYS or doc["typ"] != TYPE:
        raise StatusListError("not an elicense status list", message_zh="不是电子证照状态列表")
    issuer = doc["iss"]
    if not isinstance(issuer, str) or not 1 <= len(issuer) <= 18:
        raise StatusListError("status list issuer must be an authority code", message_zh="状态列表发布者代码错误")
    size = _check_size(doc["size"], StatusListError)
    compressed, raw_details = doc["lst"], doc["det"]
    if not isinstance(compressed, bytes) or not isinstance(raw_details, dict):
        raise StatusListError("status list fields have wrong types", message_zh="状态列表字段类型错误")
    if len(raw_details) > min(MAX_DETAILS, size):
        raise StatusListError("status list has too many details", message_zh="状态列表明细过多")
    issued_at, next_update = _time(doc["iat"], "iat"), _time(doc["nxt"], "nxt")
    if not dt.timedelta(0) < next_update - issued_at <= MAX_VALIDITY:
        raise StatusListError("status list next update out of bounds", message_zh="状态列表下次更新时间不合理")
    bits = decompress(compressed, size >> 2)
    details: dict[int, EntryDetail] = {}
    for index, value in raw_details.items():
        index = _uint(index, "detail index", size)
        if not isinstance(value, list) or len(value) != 3:
            raise StatusListError("status detail must be [reason, since, successor]", message_zh="状态明细格式错误")
        why = REASONS_BY_NUMBER.get(_uint(value[0], "reason", 256))
        if why is None:
            raise StatusListError(f"unknown status reason {value[0]}", message_zh="未知状态原因")
        since = None if value[1] is None else _time(value[1], "since")
        successor = value[2]
        if successor is not None and (not isinstance(successor, str) or not 0 < len(successor) <= MAX_SUCCESSOR):
            raise StatusListError("status detail successor must be a licence id", message_zh="状态明细新证照标识错误")
        details[index] = EntryDetail(why, since, successor)
    result = StatusList(issuer, _uint(doc["seq"], "seq"), issued_at, next_update, size, bits, MappingProxyType(details))
    for index, d in details.items():  # a detail must describe the state the bits say
        if result.state(index) is not d.reason.state:
            raise StatusListError(f"status detail {index} contradicts the bitstring", message_zh="状态明细与位串不一致")
    return result


def parse_status_list(data: bytes) -> SignedStatusList:
    """Parse a signed status list (structure and bounds; the signature is checked by the store)."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_MESSAGE:
        raise StatusListError("status list too large", message_zh="状态列表过大", details={"attack": "size"})
    try:
        message = parse_sign1(bytes(data))
        Algorithm.from_cose_id(message.alg_id)
    except ElicenseError as exc:
        raise StatusListError(
            f"status list is not a valid COSE_Sign1: {exc.message}", message_zh="状态列表签名结构错误"
        ) from exc
    return SignedStatusList(message, decode_content(message.payload), bytes(data))
