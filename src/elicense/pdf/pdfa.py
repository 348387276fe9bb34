"""PDF/A-3b for licence PDFs: the document-level parts (ISO 19005-3, level B).

A licence PDF is an archival record with its signed source (``licence.cose``) as an
associated file — exactly the use PDF/A-3 was made for. What makes the output
PDF/A-3b here:

* fpdf2's PDF/A-3B mode (:func:`prepare`): PDF 1.7 header, an sRGB OutputIntent
  (``GTS_PDFA1``, the ICC's free ``sRGB2014`` v2 profile that fpdf2 ships), XMP with
  ``pdfaid:part=3`` / ``pdfaid:conformance=B`` matching the document information
  dictionary, embedded fonts only, the associated file with ``/AFRelationship``,
  ``/Subtype`` and ``/Params /ModDate``;
* the signing step keeps it there (``elicense.pdf.sign``): pyHanko updates the
  XMP and the information dictionary together, and the PAdES signature registers
  only the ESIC extension (PDF 1.7) — not ISO/TS 32002, which would declare the
  file PDF 2.0 (``/Version /2.0`` in the catalogue, refused by PDF/A-3).

veraPDF is not packaged for Debian or PyPI here: ``tests/test_validators.py`` (``test_pdf_a_3b_check_list``)
checks these rules with pikepdf (qpdf) and Pillow's ICC reader instead.
"""

from __future__ import annotations

from typing import Any

PDFA_PROFILE = "PDFA_3B"
"""fpdf2's compliance label for PDF/A-3 level B."""


def prepare(pdf: Any) -> None:
    """Put a fresh fpdf2 document into PDF/A-3B mode (call right after constructing it)."""
    from fpdf.enums import DocumentCompliance

    pdf._compliance = DocumentCompliance[PDFA_PROFILE]
    pdf._set_min_pdf_version("1.7")
