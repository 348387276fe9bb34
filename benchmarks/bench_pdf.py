"""PDF issuing and verification cost, as ratios to bare pyHanko PAdES B-B in the same run.

    .venv/bin/python benchmarks/bench_pdf.py [N]

* bare sign: pyHanko B-B (fixed ``bytes_reserved``) of a one-page fpdf2 PDF (no CJK text);
* bare validate: pyHanko ``validate_pdf_signature`` of that PDF (explicit root, no fetching);
* issue+render+sign: ``sign_licence`` + ``render_licence`` + ``sign_pdf`` (seal appearance,
  DocMDP, attachment) per licence, with the per-process caches warm (font, seal);
* verify: ``Verifier.verify_pdf`` (pyHanko validation + attachment + QR XObject + QR verify).
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

CPU: list[float] = []
"""Median CPU time (``time.process_time``) per function of the last :func:`_interleaved` run."""


def _interleaved(fns, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Median wall time per function, sampled round-robin: on a shared machine the load drifts, and each
    ratio must compare samples taken at the same moments. CPU times go to :data:`CPU` (waiting for a
    core shared with other jobs is not counted there)."""
    for fn in fns:
        fn()
    samples: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for i, fn in enumerate(fns):
            t, c = time.perf_counter(), time.process_time()
            fn()
            samples[i].append(time.perf_counter() - t)
            cpu[i].append(time.process_time() - c)
    CPU[:] = [statistics.median(s) for s in cpu]
    return [statistics.median(s) for s in samples]


def main(n: int = 10) -> None:
    from fpdf import FPDF
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields, signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_floor import stock_signer

    from elicense.demo import build_demo
    from elicense.issue import sign_licence
    from elicense.pdf.render import render_licence
    from elicense.pdf.sign import _asn1_cert, bytes_to_reserve, seal_and_sign
    from elicense.verify.verifier import Verifier

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        world = build_demo(Path(tmp) / "w", now=now, seed=b"bench", images=False, pdf=False)
        issued = world.issued["business-licence-jinan"]
        entry = world.home.authority(issued.licence.issuer.code)
        signer = world.home.signer(entry)
        verifier = Verifier.from_trust_file(world.trust_file, clock=lambda: now)

        plain = FPDF()
        plain.add_page()
        plain.set_font("helvetica", size=12)
        plain.cell(0, 10, "bare one-page PDF")
        plain_pdf = bytes(plain.output())
        hanko_signer = stock_signer(signer)  # pyHanko's own CMS assembly (see pyhanko_floor)
        reserve = bytes_to_reserve(signer)

        def bare_sign() -> bytes:
            out = io.BytesIO()
            signers.PdfSigner(
                signers.PdfSignatureMetadata(field_name="Sig", subfilter=fields.SigSeedSubFilter.PADES),
                signer=hanko_signer,
            ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(plain_pdf)), output=out, bytes_reserved=reserve)
            return out.getvalue()

        bare_pdf = bare_sign()
        roots = [_asn1_cert(c) for c in verifier.trust.roots]
        inter = [_asn1_cert(c) for c in signer.chain]

        def bare_validate() -> None:
            emb = PdfFileReader(io.BytesIO(bare_pdf)).embedded_signatures[0]
            ctx = ValidationContext(trust_roots=roots, other_certs=inter, allow_fetching=False)
            validate_pdf_signature(emb, signer_validation_context=ctx)

        def issue() -> bytes:
            again = sign_licence(issued.licence, signer, at=issued.signed_at)
            return seal_and_sign(again, signer, rendered=render_licence(again))

        licence_pdf = issue()

        def verify() -> None:
            assert verifier.verify_pdf(licence_pdf, at=now)

        t_sign, t_val, t_issue, t_render, t_verify = _interleaved(
            [bare_sign, bare_validate, issue, lambda: render_licence(issued), verify], n
        )
    print(f"bare pyHanko B-B sign       {t_sign * 1e3:8.1f} ms")
    print(f"bare pyHanko validate       {t_val * 1e3:8.1f} ms")
    print(f"issue+render+sign licence   {t_issue * 1e3:8.1f} ms  = {t_issue / t_sign:5.2f}x bare sign (target <= 2x)")
    print(f"  of which render           {t_render * 1e3:8.1f} ms")
    print(
        f"verify licence PDF          {t_verify * 1e3:8.1f} ms  = {t_verify / t_val:5.2f}x bare validate "
        "(target <= 1.3x)"
    )
    c_sign, c_val, c_issue, _, c_verify = CPU
    print(
        f"CPU time: issue {c_issue * 1e3:.1f} / bare sign {c_sign * 1e3:.1f} ms = {c_issue / c_sign:.2f}x; "
        f"verify {c_verify * 1e3:.1f} / bare validate {c_val * 1e3:.1f} ms = {c_verify / c_val:.2f}x"
    )
    print(f"licence PDF size            {len(licence_pdf) / 1024:8.1f} KiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
