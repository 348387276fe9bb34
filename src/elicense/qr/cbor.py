"""Strict, bounded CBOR decoding for hostile input (one configuration, used everywhere).

cbor2 decodes many semantic tags into rich objects (``re.compile`` for tag 35,
datetimes, bignums...). Untrusted data gets none of that: every tag but the
one the caller expects is refused, containers are depth-limited, duplicate
map keys and indefinite lengths are errors, and only plain types come back.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from elicense.errors import PayloadError, PayloadTooLarge

MAX_DEPTH = 8
_BUILTIN_TAGS = (
    0, 1, 2, 3, 4, 5, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 34, 35, 36, 37, 38,
    100, 256, 258, 260, 261, 262, 263, 270, 1004, 1040, 55799,
)  # fmt: skip


def _refuse_semantic(decoder: object) -> Any:
    raise PayloadError("CBOR semantic tags are not allowed here")


_SEMANTIC = dict.fromkeys(_BUILTIN_TAGS, _refuse_semantic)


_HOOKS: dict[frozenset[int], Any] = {}


def _tag_hook(allowed_tags: frozenset[int]) -> Any:
    """One hook per allowed set, built once (``loads`` runs several times per verification)."""
    hook = _HOOKS.get(allowed_tags)
    if hook is None:

        def hook(*args: Any) -> Any:
            # cbor2 < 6 calls (decoder, tag); cbor2 >= 6 calls (tag, immutable).
            tag = next(a for a in args if isinstance(a, cbor2.CBORTag))
            if tag.tag in allowed_tags:
                return tag
            raise PayloadError(f"CBOR tag {tag.tag} is not allowed here")

        if len(_HOOKS) < 64:
            _HOOKS[allowed_tags] = hook
    return hook


_PLAIN = frozenset({int, str, bytes, bool, float, type(None)})
_SEQUENCES = frozenset({list, tuple})
_MAPS = frozenset({dict, cbor2.frozendict})


def _refuse_unplain(value: Any) -> None:
    """Simple values (``undefined``, ``simple(n)``) have no hook in cbor2: refuse them after decoding."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t in _PLAIN:
            continue
        if t in _SEQUENCES:
            push(v)
        elif t in _MAPS:
            push(v.keys())
            push(v.values())
        elif t is cbor2.CBORTag:
            stack.append(v.value)
        else:
            raise PayloadError(f"CBOR {t.__name__} is not allowed here", message_zh="CBOR 数据含有不允许的值")


def loads(data: bytes, *, allowed_tags: frozenset[int] = frozenset(), max_depth: int = MAX_DEPTH) -> Any:
    """Decode CBOR strictly; raise :class:`PayloadError` on anything unexpected."""
    value = _loads(data, allowed_tags, max_depth)
    _refuse_unplain(value)
    return value


def loads_typed(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """:func:`loads` without tags and without the plain-value walk, for a caller that checks the exact type
    of every value it reads (``claims.parse_claims``, the verify hot path: the walk costs ~2 µs there).
    Depth, duplicate keys, indefinite lengths and trailing bytes are refused exactly as by :func:`loads`,
    and so is any encoding but the canonical one (signed claims: one licence, one byte string)."""
    value = _loads(data, _NO_TAGS, max_depth)
    require_canonical(value, data)
    return value


def is_canonical(value: Any, data: bytes) -> bool:
    """Whether ``data`` is :func:`dumps` of ``value``, cheaply on the hot path.

    cbor2's canonical mode costs ~4 decodes (it re-encodes every key to sort it); its plain mode also
    writes shortest heads, in the decoded order, so when every map has unsigned-integer keys (claims) a
    plain re-encoding equal to ``data`` plus ascending keys is the same test. Anything else (other key
    types, floats) takes the canonical re-encoding.
    """
    try:
        if _dumps(value) == data and _uint_keys_ascending(value):
            return True
        return bool(_dumps(value, canonical=True) == data)
    except (cbor2.CBOREncodeError, TypeError, ValueError, OverflowError):
        return False


def _uint_keys_ascending(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            previous = -1
            for k in v:
                if type(k) is not int or k <= previous:
                    return False
                previous = k
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
    return True


def require_canonical(value: Any, data: bytes) -> None:
    """Refuse ``data`` unless it is the deterministic encoding of ``value`` (RFC 8949 §4.2.1: shortest heads,
    sorted map keys). A signer that emitted other bytes made a second valid encoding of the same content."""
    if not is_canonical(value, data):
        raise PayloadError(
            "CBOR is not in its canonical encoding (non-minimal heads or unsorted keys)",
            message_zh="CBOR 数据不是规范编码",
            details={"reason": "payload_not_canonical"},
        )


_NO_TAGS: frozenset[int] = frozenset()


def loads_exact(data: bytes, max_depth: int) -> Any:
    """:func:`loads_typed` without its error translation, for a fast path whose caller hands the decoder's
    refusals to the strict path: same decoder settings, trailing bytes and non-canonical bytes refused.

    A decoder goes back to a small pool only after a *successful* decode (its state is then clean: tags
    are refused, so it holds no shared values or string references); a failed one is dropped. ``list.pop``
    and ``list.append`` are atomic, so threads never share a decoder.
    """
    fp = _BytesIO(data)
    try:
        decoder: cbor2.CBORDecoder | None = _POOL.pop()
    except IndexError:  # the pool is empty (another thread may take the last one between a test and a pop)
        decoder = None
    if decoder is None or decoder.max_depth != max_depth:
        decoder = _Decoder(
            fp,
            tag_hook=_NO_TAG_HOOK,
            semantic_decoders=_SEMANTIC,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    else:
        decoder.fp = fp
    value = decoder.decode()
    if fp.tell() != len(data):
        raise PayloadError("trailing bytes after the CBOR item", message_zh="CBOR 数据后有多余字节")
    if len(_POOL) < 8:
        _POOL.append(decoder)
    if not is_canonical(value, data):
        raise PayloadError("CBOR is not in its canonical encoding", message_zh="CBOR 数据不是规范编码")
    return value


_POOL: list[cbor2.CBORDecoder] = []


def _loads(data: bytes, allowed_tags: frozenset[int], max_depth: int) -> Any:
    tag_hook = _tag_hook(allowed_tags)
    fp = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            fp,
            tag_hook=tag_hook,
            semantic_decoders=_SEMANTIC,
            max_depth=max_depth,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        ).decode()
    except PayloadError:
        raise
    except RecursionError as exc:
        raise PayloadTooLarge("CBOR nesting too deep", message_zh="CBOR 嵌套过深") from exc
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, MemoryError) as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, PayloadError):
            raise cause from exc
        if "depth" in str(exc).lower():
            raise PayloadTooLarge("CBOR nesting too deep", message_zh="CBOR 嵌套过深") from exc
        raise PayloadError(f"malformed CBOR: {exc}", message_zh="CBOR 数据格式错误") from exc
    if fp.tell() != len(data):  # cbor2 ignores what follows the first item: a second encoding of one message
        raise PayloadError("trailing bytes after the CBOR item", message_zh="CBOR 数据后有多余字节")
    return value


_BytesIO = io.BytesIO
_Decoder = cbor2.CBORDecoder
_dumps = cbor2.dumps
_NO_TAG_HOOK = _tag_hook(_NO_TAGS)


def dumps(obj: Any) -> bytes:
    """Deterministic (canonical, RFC 8949 §4.2.1) CBOR encoding."""
    return cbor2.dumps(obj, canonical=True)


_UNORDERABLE = object()
_KEY_ORDERS: dict[tuple[str | int, ...], tuple[str | int, ...]] = {}
_INT_KEY_RANGE = 2**63
"""Integer keys the ordered path takes (CBOR heads of 1 to 9 bytes); bigger ones take :func:`dumps`."""


def _key_order(keys: tuple[Any, ...]) -> tuple[str | int, ...] | None:
    """``keys`` in canonical order, or ``None`` when one is neither text nor an integer of a plain head."""
    for k in keys:
        t = type(k)
        if t is not str and (t is not int or not -_INT_KEY_RANGE <= k < _INT_KEY_RANGE):
            return None
    # RFC 8949 §4.2.3 / cbor2's canonical mode: shorter encoded key first, then bytewise (text and integer
    # keys alike: each key's own encoding is the sort key, computed once per set of keys)
    return tuple(sorted(keys, key=lambda k: (len(enc := _dumps(k)), enc)))


def _ordered(value: Any) -> Any:
    """``value`` with every map's keys (text or integers) in canonical order, or :data:`_UNORDERABLE` when it
    holds anything whose plain encoding may differ from the canonical one (floats, tags, other keys...)."""
    t = type(value)
    if t is str or t is bytes or t is bool or value is None:
        return value
    if t is int:
        return value if -(2**64) <= value < 2**64 else _UNORDERABLE
    if t is dict:
        keys = tuple(value)
        order = _KEY_ORDERS.get(keys)
        if order is None:
            order = _key_order(keys)
            if order is None:
                return _UNORDERABLE
            if len(_KEY_ORDERS) < 1024:
                _KEY_ORDERS[keys] = order
        out = {}
        for k in order:
            v = value[k]
            tv = type(v)
            # text, null, bytes, small integers: most values, kept as they are without a call
            if not (tv is str or v is None or tv is bytes or (tv is int and -(2**64) <= v < 2**64)):
                v = _ordered(v)
                if v is _UNORDERABLE:
                    return _UNORDERABLE
            out[k] = v
        return out
    if t is list:
        items = [_ordered(v) for v in value]
        return _UNORDERABLE if any(v is _UNORDERABLE for v in items) else items
    return _UNORDERABLE


def dumps_keyed(obj: Any) -> bytes:
    """:func:`dumps` of a value whose maps have text or integer keys (a licence record, QR claims) without
    cbor2's canonical mode (it encodes every key again to sort it: 5× the plain encoding): the maps are
    put in canonical key order, then encoded plainly (shortest heads, as canonical). Anything else takes
    :func:`dumps`."""
    ordered = _ordered(obj)
    return dumps(obj) if ordered is _UNORDERABLE else _dumps(ordered)


def tag(number: int, value: Any) -> cbor2.CBORTag:
    """A CBOR tag object (re-exported so callers need not import cbor2)."""
    return cbor2.CBORTag(number, value)
