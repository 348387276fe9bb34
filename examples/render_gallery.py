"""Render one licence PDF of every catalogue type to PNG (the gallery in ``docs/renders/``).

    python examples/render_gallery.py OUT_DIR [--demo DEMO_DIR] [--dpi 96]

``DEMO_DIR`` is an ``elicense demo`` output (default: a demo built in ``OUT_DIR/demo``); each
type's first sample PDF is drawn with pypdfium2 (forms initialised, so the seal — the signature
appearance — is drawn too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SAMPLES = (
    "business-licence-jinan",
    "food-business-licence-jinan",
    "construction-safety-licence-shandong",
    "driving-licence-nanjing",
    "resident-id-card-nanjing",
    "real-estate-title-nanjing",
)


def render(pdf: Path, png: Path, dpi: int) -> None:
    """Page 1 of ``pdf`` as a PNG at ``dpi``."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    doc = pdfium.PdfDocument(str(pdf))
    try:
        doc.init_forms()
        page = doc[0]
        image = page.render(scale=dpi / 72, may_draw_forms=True).to_pil()
        image.convert("RGB").quantize(colors=64).save(png, optimize=True)
    finally:
        doc.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--demo", type=Path, default=None, help="an elicense demo directory (default: build one)")
    parser.add_argument("--dpi", type=int, default=96)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    demo = args.demo
    if demo is None:
        import datetime as dt

        from elicense.demo import build_demo

        demo = args.out / "demo"
        build_demo(demo, now=dt.datetime.now(dt.UTC).replace(microsecond=0), images=False)
    for name in SAMPLES:
        target = args.out / f"{name}.png"
        render(demo / "licences" / f"{name}.pdf", target, args.dpi)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
