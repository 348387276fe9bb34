"""The OFD container (GB/T 33190 §7): a ZIP package read within bounds, and written deterministically.

An OFD file is hostile input: a ZIP whose entries may be bombs, may be too many,
may carry names that escape the package (``../``, absolute paths, drive letters,
backslashes) or appear twice, and whose XML may declare entities or point at
external resources. :func:`read_package` refuses all of that with a typed error
(:class:`OfdLimitError` for a bound, :class:`OfdFormatError` for the rest) before
anything is interpreted. Sizes are never taken from the ZIP headers: entries are
inflated in chunks and cut off at the bound.

:func:`parse_xml` is the only XML parser of the package: lxml with no entity
resolution, no DTD, no network, a size bound, and a depth bound; a document that
declares a DOCTYPE is refused outright.

:func:`write_package` writes entries in the given order with fixed timestamps and
attributes, so the same content always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lxml import etree

from elicense.errors import InputError
from elicense.trust.xml import xml_parser

__all__ = [
    "MAX_ENTRIES",
    "MAX_ENTRY_BYTES",
    "MAX_PACKAGE_BYTES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "MAX_XML_BYTES",
    "MAX_XML_DEPTH",
    "OFD_NS",
    "OfdError",
    "OfdFormatError",
    "OfdLimitError",
    "Package",
    "local",
    "parse_xml",
    "read_package",
    "resolve",
    "write_package",
]

OFD_NS = "http://www.ofdspec.org/2016"
"""Namespace of GB/T 33190 documents (some producers write ``http://www.ofdspec.org``: elements are matched by
local name)."""

MAX_PACKAGE_BYTES = 64 * 1024 * 1024
"""Largest OFD file accepted."""
MAX_ENTRIES = 4096
"""Most ZIP entries (files and directories) accepted."""
MAX_ENTRY_BYTES = 64 * 1024 * 1024
"""Largest inflated entry."""
MAX_TOTAL_BYTES = 256 * 1024 * 1024
"""Largest sum of inflated entries."""
MAX_RATIO = 100
"""Largest inflate ratio of an entry above :data:`RATIO_FLOOR` bytes (fonts and XML stay far below it)."""
RATIO_FLOOR = 1024 * 1024
"""Entries that inflate to less than this are not ratio-checked (a tiny XML may compress 300:1)."""
MAX_XML_BYTES = 16 * 1024 * 1024
"""Largest XML part parsed."""
MAX_XML_DEPTH = 64
"""Deepest XML element nesting accepted."""
MAX_NAME_LENGTH = 512
"""Longest entry name."""
_CHUNK = 64 * 1024
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


class OfdError(InputError):
    """An OFD package could not be read (base of the OFD errors)."""

    code = "ofd"


class OfdFormatError(OfdError):
    """The package or one of its parts is malformed, or a name escapes the package."""

    code = "ofd_malformed"


class OfdLimitError(OfdError):
    """A read would exceed a bound (size, entry count, inflate ratio, XML depth)."""

    code = "ofd_limit"


def _format(message: str, zh: str, **details: object) -> OfdFormatError:
    return OfdFormatError(message, message_zh=zh, details=details)


def _limit(message: str, zh: str, **details: object) -> OfdLimitError:
    return OfdLimitError(message, message_zh=zh, details=details)


def _check_name(name: str) -> str:
    """The entry name if it stays inside the package; directory entries end in ``/``."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise _format("empty or over-long entry name", "包内文件名为空或过长", name=name[:80])
    if "\\" in name or "\x00" in name or ":" in name.split("/")[0] or any(ord(c) < 0x20 for c in name):
        raise _format(f"entry name {name!r} is not a package path", f"包内文件名 {name!r} 不合法", name=name)
    if name.startswith("/"):
        raise _format(f"entry name {name!r} is absolute", f"包内文件名 {name!r} 为绝对路径", name=name)
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise _format(f"entry name {name!r} escapes or is not normal", f"包内文件名 {name!r} 越出文件包", name=name)
    return name


@dataclass(frozen=True)
class Package:
    """The files of an OFD package, by normalised path (no leading ``/``), in ZIP order."""

    files: Mapping[str, bytes]
    """File contents by path (directories dropped)."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path in self.files

    def read(self, path: str) -> bytes:
        """The bytes of ``path``; :class:`OfdFormatError` if absent."""
        try:
            return self.files[path]
        except KeyError:
            raise _format(f"the package has no file {path}", f"文件包中缺少 {path}", path=path) from None

    def xml(self, path: str) -> etree._Element:
        """``path`` parsed by :func:`parse_xml`."""
        return parse_xml(self.read(path), path)

    @property
    def names(self) -> tuple[str, ...]:
        """Every file path, in ZIP order."""
        return tuple(self.files)


def read_package(data: bytes) -> Package:
    """Read an OFD package within bounds (see the module docstring)."""
    if len(data) > MAX_PACKAGE_BYTES:
        raise _limit(f"OFD file larger than {MAX_PACKAGE_BYTES} bytes", "OFD 文件过大", size=len(data))
    if not data.startswith(b"PK\x03\x04"):
        raise _format("not an OFD package (no ZIP header)", "不是 OFD 文件（缺少 ZIP 文件头）")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise _format(f"unreadable ZIP package: {exc}", "OFD 文件包无法读取") from exc
    if len(infos) > MAX_ENTRIES:
        raise _limit(
            f"package has {len(infos)} entries (at most {MAX_ENTRIES})", "OFD 文件包条目过多", entries=len(infos)
        )
    files: dict[str, bytes] = {}
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = _check_name(info.filename)
        key = name.rstrip("/")
        if key in seen:
            raise _format(f"entry {key!r} appears twice", f"包内文件 {key!r} 重复出现", name=key)
        seen.add(key)
        if name.endswith("/"):
            continue
        if info.flag_bits & 0x1:
            raise _format(f"entry {name!r} is encrypted", f"包内文件 {name!r} 已加密", name=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _format(
                f"entry {name!r} uses an unsupported compression", f"包内文件 {name!r} 压缩方式不受支持", name=name
            )
        content = _inflate(archive, info, MAX_TOTAL_BYTES - total)
        total += len(content)
        files[name] = content
    prefixes = {name[:i] for name in files for i in range(len(name)) if name[i] == "/"}
    if prefixes & files.keys():  # a file used as a directory
        raise _format("a package path is both a file and a directory", "包内路径既是文件又是目录")
    return Package(MappingProxyType(files))


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """One entry, inflated in chunks and cut off at the bounds (headers are not trusted)."""
    cap = min(MAX_ENTRY_BYTES, budget)
    declared = info.file_size
    if declared > cap or (declared > RATIO_FLOOR and declared > MAX_RATIO * max(info.compress_size, 1)):
        raise _limit(
            f"entry {info.filename!r} declares {declared} bytes from {info.compress_size} (zip bomb)",
            "OFD 包内文件解压后过大或压缩比异常（疑似压缩炸弹）",
            name=info.filename,
        )
    # zipfile stops at the declared size and checks the CRC: a header that lies low ends in a CRC error;
    # the checks below still bound what is inflated
    out = bytearray()
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                out += chunk
                if len(out) > cap:
                    raise _limit(
                        f"entry {info.filename!r} inflates past {cap} bytes",
                        "OFD 包内文件解压后过大",
                        name=info.filename,
                    )
                if len(out) > RATIO_FLOOR and len(out) > MAX_RATIO * max(info.compress_size, 1):
                    raise _limit(
                        f"entry {info.filename!r} inflates more than {MAX_RATIO}:1 (zip bomb)",
                        "OFD 包内文件压缩比异常（疑似压缩炸弹）",
                        name=info.filename,
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise _format(
            f"entry {info.filename!r} is corrupt: {exc}", f"包内文件 {info.filename!r} 已损坏", name=info.filename
        ) from exc
    return bytes(out)


# -- XML ---------------------------------------------------------------------------------------


def parse_xml(data: bytes, what: str = "XML") -> etree._Element:
    """Parse an XML part safely: no DOCTYPE (so no entities), no network, bounded size and depth."""
    if len(data) > MAX_XML_BYTES:
        raise _limit(f"{what}: XML larger than {MAX_XML_BYTES} bytes", f"{what}：XML 过大", part=what)
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise _format(
            f"{what}: a DOCTYPE or entity declaration is not allowed", f"{what}：不允许 DOCTYPE 或实体声明", part=what
        )
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise _format(f"{what}: malformed XML: {exc}", f"{what}：XML 格式错误", part=what) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _format(f"{what}: a DOCTYPE is not allowed", f"{what}：不允许 DOCTYPE", part=what)
    _check_depth(root, what)
    return root


def _check_depth(root: etree._Element, what: str) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise _limit(f"{what}: XML nested deeper than {MAX_XML_DEPTH}", f"{what}：XML 嵌套过深", part=what)
        if isinstance(node.tag, str):
            stack.extend((child, depth + 1) for child in node)
        else:  # entity references, processing instructions: nothing of that kind belongs in an OFD part
            if isinstance(node, etree._Entity):
                raise _format(f"{what}: entity reference", f"{what}：含实体引用", part=what)


def local(element: etree._Element) -> str:
    """The local name of an element (namespace dropped)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def resolve(base_dir: str, location: str) -> str:
    """A package path from an ``ST_Loc``: absolute from the package root, else relative to ``base_dir``.

    Refuses locations that leave the package.
    """
    loc = location.strip()
    if not loc or len(loc) > MAX_NAME_LENGTH or "\\" in loc or "\x00" in loc or "://" in loc:
        raise _format(f"location {location[:80]!r} is not a package path", "包内路径不合法", location=location[:80])
    joined = loc[1:] if loc.startswith("/") else posixpath.join(base_dir, loc)
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _format(f"location {location!r} escapes the package", "包内路径越出文件包", location=location)
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise _format(f"location {location!r} is empty", "包内路径为空", location=location)
    return "/".join(parts)


# -- writing -----------------------------------------------------------------------------------


def write_package(
    files: Iterable[tuple[str, bytes]] | Mapping[str, bytes], *, when: dt.datetime | None = None
) -> bytes:
    """A ZIP of ``files`` in the given order, with fixed metadata: same input, same bytes.

    ``when`` (default 2000-01-01) is written as every entry's modification time.
    """
    items = list(files.items()) if isinstance(files, Mapping) else list(files)
    stamp = (
        _ZIP_TIME
        if when is None
        else (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second - when.second % 2)
    )
    out = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in items:
            _check_name(name)
            if name in seen:
                raise _format(f"entry {name!r} written twice", f"包内文件 {name!r} 重复写入", name=name)
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return out.getvalue()
