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

import functools
import zlib

from fpdf import FPDF
from fpdf.enums import DocumentCompliance, OutputIntentSubType
from fpdf.output import PDFICCProfile
from fpdf.syntax import Name
from fpdf.util import builtin_srgb2014_bytes

PDFA_PROFILE = "PDFA_3B"
"""fpdf2's compliance label for PDF/A-3 level B."""


@functools.cache
def _srgb_flate() -> bytes:
    """fpdf2's sRGB2014 v2 profile, deflated as fpdf2 deflates it (read and compressed once per process)."""
    return zlib.compress(builtin_srgb2014_bytes(), level=PDFICCProfile._COMPRESSION_LEVEL)


class _SrgbProfile(PDFICCProfile):
    """The output intent's ICC stream with its Flate bytes made once (fpdf2 re-reads and re-deflates it)."""

    def __init__(self) -> None:
        super().__init__(contents=b"", n=3, alternate="DeviceRGB")
        self._contents = _srgb_flate()
        self.filter = Name("FlateDecode")
        self.length = len(self._contents)


def prepare(pdf: FPDF) -> None:
    """Put a fresh fpdf2 document into PDF/A-3B mode (call right after constructing it).

    The sRGB output intent is the one fpdf2 would add on output, with the profile stream cached.
    """
    pdf._compliance = DocumentCompliance[PDFA_PROFILE]
    pdf._set_min_pdf_version("1.7")
    pdf.add_output_intent(
        OutputIntentSubType.PDFA,
        output_condition_identifier="sRGB",
        output_condition="IEC 61966-2-1:1999",
        registry_name="http://www.color.org",
        dest_output_profile=_SrgbProfile(),
        info="sRGB2014 (v2)",
    )
