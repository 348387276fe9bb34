"""An OFD document's structure as read back: its pages and signature lists, and elicense's licence tags.

Below both :mod:`elicense.ofd.write` (which writes the tags) and :mod:`elicense.ofd.verify`
(which checks a licence OFD's tags against its signed payload), so neither imports the other.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from elicense.ofd.package import OfdError, OfdFormatError, OfdLimitError, Package, local, read_package, resolve

if TYPE_CHECKING:
    from lxml import etree

MAX_DOCUMENTS = 8
"""Most ``DocBody`` elements in ``OFD.xml``."""
MAX_PAGES = 1024
"""Most pages per document."""
TAG_NAMESPACE = "urn:elicense:ofd:licence:1"
"""Namespace of ``Tag_Licence.xml`` (the field → page object map)."""


def first_child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child named ``name`` (any namespace)."""
    for child in element:
        if local(child) == name:
            return child
    return None


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """The children named ``name`` (any namespace)."""
    return [child for child in element if local(child) == name]


def text_of(element: etree._Element | None) -> str | None:
    """The stripped text of ``element``; ``None`` when absent or empty."""
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def document_pages(package: Package) -> tuple[list[tuple[str, str]], list[str]]:
    """``(page ID, Content.xml path)`` of every page, and the Signatures.xml paths, from OFD.xml."""
    root = package.xml("OFD.xml")
    if local(root) != "OFD":
        raise OfdError("OFD.xml is not an OFD entry file", message_zh="OFD.xml 不是 OFD 入口文件")
    bodies = children(root, "DocBody")
    if not bodies or len(bodies) > MAX_DOCUMENTS:
        raise OfdError("OFD.xml names no document (or too many)", message_zh="OFD.xml 未指明文档或文档过多")
    pages: list[tuple[str, str]] = []
    signature_lists: list[str] = []
    for body in bodies:
        doc_root = text_of(first_child(body, "DocRoot"))
        if doc_root is None:
            raise OfdError("OFD.xml has no DocRoot", message_zh="OFD.xml 缺少 DocRoot")
        doc_path = resolve("", doc_root)
        document = package.xml(doc_path)
        doc_dir = posixpath.dirname(doc_path)
        pages_el = first_child(document, "Pages")
        for page in children(pages_el, "Page") if pages_el is not None else []:
            if len(pages) >= MAX_PAGES:
                raise OfdLimitError("too many pages", message_zh="页数过多")
            loc = page.get("BaseLoc")
            if loc:
                pages.append((page.get("ID", ""), resolve(doc_dir, loc)))
        signatures = text_of(first_child(body, "Signatures"))
        if signatures:
            signature_lists.append(resolve("", signatures))
    return pages, signature_lists


# -- reading the tags back -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedField:
    """A field read back from ``CustomTags``: its value and the text of the page objects showing it."""

    key: str
    """Metadata key or catalogue field key."""
    name: str
    """Chinese name."""
    value: str
    """The value as tagged (dates ISO)."""
    shown: str
    """The concatenated text of the referenced TextObjects."""
    object_ids: tuple[str, ...]
    """The referenced object IDs."""


def read_licence_tags(data: bytes | Package) -> dict[str, TaggedField]:
    """The fields of an elicense licence OFD, from its ``CustomTags`` and page objects (no OCR)."""
    package = data if isinstance(data, Package) else read_package(data)
    pages, _ = document_pages(package)
    text_by_id: dict[tuple[str, str], str] = {}
    for page_id, path in pages:
        for element in package.xml(path).iter():
            if local(element) == "TextObject":
                text = "".join(code.text or "" for code in element if local(code) == "TextCode")
                text_by_id[(page_id, element.get("ID", ""))] = text
    doc = package.xml("Doc_0/Document.xml")
    tags_loc = next((el.text for el in doc if local(el) == "CustomTags" and el.text), None)
    if tags_loc is None:
        raise OfdFormatError("the document has no CustomTags", message_zh="文档不含 CustomTags")
    tags_path = resolve("Doc_0", tags_loc)
    out: dict[str, TaggedField] = {}
    for tag in package.xml(tags_path):
        if local(tag) != "CustomTag" or tag.get("NameSpace") != TAG_NAMESPACE:
            continue
        loc = next((el.text for el in tag if local(el) == "FileLoc" and el.text), None)
        if loc is None:
            continue
        for item in package.xml(resolve(posixpath.dirname(tags_path), loc)):
            if local(item) not in ("Meta", "Field"):
                continue
            refs = [(ref.get("PageRef", ""), (ref.text or "").strip()) for ref in item if local(ref) == "ObjectRef"]
            shown = "".join(text_by_id.get(ref, "") for ref in refs)
            key = item.get("Key", "")
            out[key] = TaggedField(
                key, item.get("Name", ""), item.get("Value", ""), shown, tuple(oid for _, oid in refs)
            )
    return out
