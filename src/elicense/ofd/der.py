"""Just enough DER to find what an OFD signature value says it signed.

The carrier needs three facts from ``SignedValue.dat`` before any cryptography:
which kind of signature it is (GB/T 38540 / GM/T 0031 ``SES_Signature``, GB/T 35275
``SignedData``, or a bare SM2 ``SEQUENCE{r, s}``), the digest of the document it
claims (``dataHash`` / ``messageDigest``), and the seal it embeds (to compare with
``Seal.esl``). This walker reads definite-length DER only, bounded in depth and
size; the signatures themselves are verified by :mod:`elicense.seal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DerError", "SignedValueInfo", "Tlv", "read_tlv", "signed_value_info"]

MAX_SIGNED_VALUE = 4 * 1024 * 1024
OID_SIGNED_DATA_GM = "1.2.156.10197.6.1.4.2.2"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SM2_SIGNED_DATA_ATTR_DIGEST = "1.2.156.10197.6.1.4.2.1"  # some producers type the content as GM "data"


class DerError(ValueError):
    """Bytes that are not the DER this walker expects."""


@dataclass(frozen=True)
class Tlv:
    """One DER element: its identifier octet, where its content lies, and where it ends."""

    tag: int
    """The first identifier octet (class, constructed bit and low tag number)."""
    start: int
    """Offset of the content."""
    end: int
    """Offset after the content."""
    header: int
    """Offset of the identifier octet."""

    @property
    def constructed(self) -> bool:
        """Whether the element contains elements."""
        return bool(self.tag & 0x20)


def read_tlv(data: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """The element at ``offset`` (definite lengths only; high tag numbers refused)."""
    end_limit = len(data) if limit is None else limit
    if offset + 2 > end_limit:
        raise DerError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not used here")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > end_limit:
            raise DerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end_limit:
        raise DerError("element runs past its container")
    return Tlv(tag, pos, pos + length, offset)


def children(data: bytes, tlv: Tlv, most: int = 64) -> list[Tlv]:
    """The elements inside a constructed element (at most ``most``)."""
    out: list[Tlv] = []
    pos = tlv.start
    while pos < tlv.end:
        if len(out) >= most:
            raise DerError("too many elements")
        child = read_tlv(data, pos, tlv.end)
        out.append(child)
        pos = child.end
    return out


def oid(data: bytes, tlv: Tlv) -> str:
    """Dotted text of an OBJECT IDENTIFIER element."""
    if tlv.tag != 0x06 or tlv.end - tlv.start > 64 or tlv.end == tlv.start:
        raise DerError("not an OID")
    raw = data[tlv.start : tlv.end]
    arcs: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def _bit_string(data: bytes, tlv: Tlv) -> bytes:
    if tlv.tag != 0x03 or tlv.end == tlv.start:
        raise DerError("not a BIT STRING")
    return data[tlv.start + 1 : tlv.end]


@dataclass(frozen=True)
class SignedValueInfo:
    """What a ``SignedValue.dat`` claims, read without verifying it."""

    kind: Literal["ses", "signed_data", "raw_sm2", "unknown"]
    """``ses``: an SES_Signature (v1/v4/v5); ``signed_data``: GB/T 35275; ``raw_sm2``: a bare ``SEQUENCE{r,s}``."""
    version: int | None = None
    """``TBS_Sign.version`` of an SES signature."""
    data_hash: bytes | None = None
    """The signed document digest: ``dataHash`` (SES) or the ``messageDigest`` attribute (SignedData)."""
    property_info: str | None = None
    """``TBS_Sign.propertyInfo`` (the Signature.xml path, in OFD)."""
    seal: bytes | None = None
    """DER of the seal embedded in an SES signature, as in the file."""
    seal_version: int | None = None
    """Header version of that seal."""
    problem: str | None = None
    """Why the value could not be read, when ``kind`` is ``unknown``."""


def signed_value_info(data: bytes) -> SignedValueInfo:
    """Classify ``SignedValue.dat`` and pull out its claimed digest and seal."""
    if len(data) > MAX_SIGNED_VALUE:
        return SignedValueInfo("unknown", problem="signed value too large")
    try:
        outer = read_tlv(data)
        if outer.tag != 0x30 or outer.end != len(data):
            return SignedValueInfo("unknown", problem="not one DER SEQUENCE")
        items = children(data, outer, 8)
        if len(items) == 2 and items[0].tag == 0x02 and items[1].tag == 0x02:
            return SignedValueInfo("raw_sm2")
        if len(items) == 2 and items[0].tag == 0x06 and items[1].tag == 0xA0:
            return _signed_data(data, items)
        if items and items[0].tag == 0x30:
            return _ses(data, items[0])
    except DerError as exc:
        return SignedValueInfo("unknown", problem=str(exc))
    return SignedValueInfo("unknown", problem="unrecognised structure")


def _ses(data: bytes, tbs: Tlv) -> SignedValueInfo:
    """``TBS_Sign ::= SEQUENCE { version, eseal, timeInfo, dataHash BIT STRING, propertyInfo, ... }`` (v1/v4/v5)."""
    fields = children(data, tbs, 16)
    if len(fields) < 5 or fields[0].tag != 0x02 or fields[1].tag != 0x30:
        raise DerError("not a TBS_Sign")
    version = int.from_bytes(data[fields[0].start : fields[0].end], "big", signed=True)
    seal = data[fields[1].header : fields[1].end]
    seal_version: int | None = None
    try:  # SESeal ::= SEQUENCE { SES_SealInfo SEQUENCE { SES_Header SEQUENCE { ID, version, Vid }, ... }, ... }
        info = children(data, fields[1], 8)[0]
        header = children(data, info, 16)[0]
        hv = children(data, header, 4)[1]
        if hv.tag == 0x02:
            seal_version = int.from_bytes(data[hv.start : hv.end], "big", signed=True)
    except (DerError, IndexError):
        seal_version = None
    prop = fields[4]
    if prop.tag not in (0x16, 0x0C, 0x13, 0x04):
        raise DerError("propertyInfo is not a string")
    return SignedValueInfo(
        "ses",
        version=version,
        data_hash=_bit_string(data, fields[3]),
        property_info=data[prop.start : prop.end].decode("utf-8", "replace"),
        seal=seal,
        seal_version=seal_version,
    )


def _signed_data(data: bytes, items: list[Tlv]) -> SignedValueInfo:
    kind = oid(data, items[0])
    if kind not in (OID_SIGNED_DATA_GM, OID_SIGNED_DATA):
        return SignedValueInfo("unknown", problem=f"content type {kind}")
    body = children(data, items[1], 2)
    if len(body) != 1 or body[0].tag != 0x30:
        raise DerError("bad SignedData wrapper")
    parts = children(data, body[0], 8)
    signer_infos = [p for p in parts if p.tag == 0x31][-1:] if parts else []
    digest: bytes | None = None
    for signer in children(data, signer_infos[0], 4) if signer_infos else []:
        for attrs in children(data, signer, 16):
            if attrs.tag != 0xA0:
                continue
            for attr in children(data, attrs, 32):
                pair = children(data, attr, 2)
                if len(pair) == 2 and oid(data, pair[0]) == OID_MESSAGE_DIGEST:
                    values = children(data, pair[1], 2)
                    if values and values[0].tag == 0x04:
                        digest = data[values[0].start : values[0].end]
    return SignedValueInfo("signed_data", data_hash=digest)
