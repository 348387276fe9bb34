"""A bounded DER walker for seals and signatures made by other systems.

Why not a schema library: real seals vary (tagged or untagged ``extDatas``, BIT or OCTET
STRING times, v1/v4/v5 layouts), a verifier must know **which bytes of the file** each
signature covers, and it must say where the input is not DER. The walker keeps every
element's offsets into the original buffer; primitive values are decoded with asn1crypto.
Indefinite lengths, high tag numbers and truncation are refused; non-minimal lengths are
accepted and recorded (the caller reports them as a deviation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import core

from elicense.errors import InputError

MAX_DEPTH = 24
MAX_CHILDREN = 4096

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
T61_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31
CONTEXT_0 = 0xA0
CONTEXT_1 = 0xA1


class DerError(InputError):
    """The input is not (definite-length) DER/BER the walker can read."""

    code = "ses_format"


@dataclass(frozen=True)
class Node:
    """One TLV element: its identifier octet and its place in ``buf``."""

    buf: bytes = field(repr=False)
    """The whole input."""
    tag: int
    """Identifier octet (class, constructed bit, tag number < 31)."""
    start: int
    """Offset of the identifier octet."""
    header: int
    """Length of identifier + length octets."""
    end: int
    """Offset just past the contents."""
    minimal: bool = True
    """Whether this element's length octets (and its children's) are minimal, i.e. DER."""

    @property
    def raw(self) -> bytes:
        """The element's bytes, exactly as in the input."""
        return self.buf[self.start : self.end]

    @property
    def value(self) -> bytes:
        """The contents octets."""
        return self.buf[self.start + self.header : self.end]

    @property
    def constructed(self) -> bool:
        """Constructed encoding."""
        return bool(self.tag & 0x20)

    def children(self) -> tuple[Node, ...]:
        """The elements inside a constructed element."""
        if not self.constructed:
            raise DerError(f"element with tag 0x{self.tag:02x} at offset {self.start} is not constructed")
        return _children(self.buf, self.start + self.header, self.end, 1)


def parse(buf: bytes, *, what: str = "structure") -> Node:
    """The single top-level element of ``buf`` (trailing bytes are refused)."""
    if not isinstance(buf, bytes) or not buf:
        raise DerError(f"empty {what}")
    node = _node(buf, 0, len(buf), 0)
    if node.end != len(buf):
        raise DerError(f"{len(buf) - node.end} trailing bytes after the {what}")
    return node


MAX_NODES = 20_000
"""Elements a whole-input walk visits at most (real seals have a few hundred outside certificates)."""


def all_minimal(node: Node) -> bool:
    """Whether every length in ``node`` is in minimal (DER) form (bounded: :data:`MAX_NODES`)."""
    stack, seen = [node], 0
    while stack:
        current = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise DerError(f"more than {MAX_NODES} ASN.1 elements")
        if not current.minimal:
            return False
        if current.constructed:
            stack.extend(current.children())
    return True


def _node(buf: bytes, pos: int, limit: int, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise DerError("ASN.1 nesting too deep")
    if pos + 2 > limit:
        raise DerError(f"truncated element at offset {pos}")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"high tag number at offset {pos} (not used by any seal format)")
    first = buf[pos + 1]
    minimal = True
    if first < 0x80:
        length, header = first, 2
    elif first == 0x80:
        raise DerError(f"indefinite length at offset {pos} (BER, not DER)")
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > limit:
            raise DerError(f"impossible length at offset {pos}")
        length = int.from_bytes(buf[pos + 2 : pos + 2 + count], "big")
        header = 2 + count
        if length < 0x80 or buf[pos + 2] == 0:
            minimal = False
    end = pos + header + length
    if end > limit:
        raise DerError(f"element at offset {pos} runs past its container")
    return Node(buf, tag, pos, header, end, minimal)


def _children(buf: bytes, pos: int, end: int, depth: int) -> tuple[Node, ...]:
    out: list[Node] = []
    while pos < end:
        child = _node(buf, pos, end, depth)
        out.append(child)
        if len(out) > MAX_CHILDREN:
            raise DerError("too many ASN.1 elements")
        pos = child.end
    return tuple(out)


# -- primitive values ------------------------------------------------------------------------


def expect(node: Node, *tags: int, what: str) -> Node:
    """``node`` if its tag is one of ``tags``; else a typed error naming ``what``."""
    if node.tag not in tags:
        raise DerError(f"{what}: unexpected tag 0x{node.tag:02x} at offset {node.start}")
    return node


def integer(node: Node, what: str) -> int:
    """An INTEGER's value."""
    expect(node, INTEGER, what=what)
    if not node.value or len(node.value) > 64:
        raise DerError(f"{what}: bad INTEGER")
    return int.from_bytes(node.value, "big", signed=True)


def oid(node: Node, what: str) -> str:
    """An OBJECT IDENTIFIER, dotted."""
    expect(node, OID, what=what)
    try:
        dotted: str = core.ObjectIdentifier.load(node.raw).dotted
    except ValueError as exc:
        raise DerError(f"{what}: bad OBJECT IDENTIFIER") from exc
    return dotted


def octets(node: Node, what: str) -> bytes:
    """An OCTET STRING's contents."""
    return expect(node, OCTET_STRING, what=what).value


def bits(node: Node, what: str) -> bytes:
    """A BIT STRING's contents (whole octets only)."""
    expect(node, BIT_STRING, what=what)
    if not node.value or node.value[0] != 0:
        raise DerError(f"{what}: BIT STRING with unused bits")
    return node.value[1:]


def text(node: Node, what: str) -> str:
    """A character string (IA5, Printable, UTF8, T61 read as Latin-1, BMP)."""
    value = node.value
    try:
        if node.tag == UTF8_STRING:
            return value.decode("utf-8")
        if node.tag in (IA5_STRING, PRINTABLE_STRING):
            return value.decode("ascii")
        if node.tag == T61_STRING:
            return value.decode("latin-1")
        if node.tag == BMP_STRING:
            return value.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise DerError(f"{what}: characters outside the string type") from exc
    raise DerError(f"{what}: not a character string (tag 0x{node.tag:02x})")


def time(node: Node, what: str) -> dt.datetime:
    """A UTCTime or GeneralizedTime, as an aware UTC datetime."""
    try:
        if node.tag == UTC_TIME:
            value = core.UTCTime.load(node.raw).native
        elif node.tag == GENERALIZED_TIME:
            value = core.GeneralizedTime.load(node.raw).native
        else:
            raise DerError(f"{what}: not a time (tag 0x{node.tag:02x})")
    except (ValueError, TypeError) as exc:
        raise DerError(f"{what}: bad time value") from exc
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise DerError(f"{what}: time without a time zone")
    return value.astimezone(dt.UTC)


def sequence(inner: bytes) -> bytes:
    """DER ``SEQUENCE`` around already-encoded elements."""
    return header(SEQUENCE, len(inner)) + inner


def header(tag: int, length: int) -> bytes:
    """Identifier and minimal length octets."""
    if length < 0x80:
        return bytes((tag, length))
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big")


__all__ = [
    "DerError",
    "Node",
    "all_minimal",
    "bits",
    "expect",
    "header",
    "integer",
    "octets",
    "oid",
    "parse",
    "sequence",
    "text",
    "time",
]
