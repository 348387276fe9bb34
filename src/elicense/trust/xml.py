"""The one XML parser of the trust lists and OFD parts (lxml): kept out of :mod:`elicense.trust.common`."""

from __future__ import annotations

from typing import Any, TypeAlias

from lxml import etree

XmlElement: TypeAlias = Any
"""An lxml element: lxml ships no type stubs here, so this named boundary is where typing stops."""


def xml_parser() -> etree.XMLParser:
    """The hostile-safe lxml parser every trust-list and OFD reader uses: no entities, network or DTD."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )
