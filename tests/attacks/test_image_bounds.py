"""Image decoding is bounded by pixels × bytes per pixel *before* Pillow allocates the raster.

A 165 KB PNG can declare 40 MP RGBA: 160 MB decoded, ~650 MB with the conversions (1.3 GB for two
kiosk slots). Peak memory is measured as the growth of the process's maximum resident set in a fresh
subprocess (Pillow and zxing allocate in C, out of tracemalloc's sight), through the kiosk endpoint,
the CLI and the Python API.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from conftest import NOW
from elicense.errors import InputError

from ._support import verify_cli

PEAK_BUDGET_MB = 200


def qr_png(payload: str, scale: int = 6) -> bytes:
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def rgba_png(width: int, height: int) -> bytes:
    """A valid all-transparent RGBA PNG of ``width`` × ``height`` (compresses ~1000:1)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + 4 * width)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


_PEAK = textwrap.dedent("""
    import json, resource, sys, datetime as dt
    from pathlib import Path
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier
    from elicense.qr import decode  # noqa: F401  (imports, Pillow and zxing loaded before the baseline)
    import PIL.Image, PIL.PngImagePlugin, PIL.JpegImagePlugin, zxingcpp  # noqa: F401
    now = dt.datetime.fromisoformat(sys.argv[2])
    app = make_app(Verifier.from_trust_file(sys.argv[1], clock=lambda: now))
    app.handle("POST", "/api/verify", Path(sys.argv[3]).read_bytes())  # warm up on a small genuine QR
    body = Path(sys.argv[4]).read_bytes()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = app.handle("POST", "/api/verify", body)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({"status": response.status, "doc": response.json(), "peak_mb": peak / 1024}))
""")


def _kiosk_peak(world, tmp_path: Path, body: bytes) -> dict:  # type: ignore[no-untyped-def, type-arg]
    small, big = tmp_path / "small.png", tmp_path / "big.bin"
    small.write_bytes(qr_png(world.issued["business-licence-jinan"].qr_payload))
    big.write_bytes(body)
    run = subprocess.run(
        [sys.executable, "-c", _PEAK, str(world.trust_file), NOW.isoformat(), str(small), str(big)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_attack_png_decoding_to_40_megapixels_is_refused(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    png = rgba_png(8000, 5000)
    assert len(png) < 200_000  # the upload is small...
    out = _kiosk_peak(world, tmp_path, png)
    assert out["status"] == 422 and out["doc"]["error"]["code"] == "too_many_pixels", out["doc"]
    assert out["peak_mb"] <= PEAK_BUDGET_MB, out  # ...and so is what it costs


def test_attack_png_decoding_to_40_megapixels_via_api_and_cli(world, verifier, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr.decode import read_payloads
    from elicense.verify.inputs import verify_bytes

    png = rgba_png(8000, 5000)
    for call in (lambda: read_payloads(png), lambda: verify_bytes(verifier, png, at=NOW)):
        with pytest.raises(InputError) as info:
            call()
        assert info.value.details["reason"] == "too_many_pixels"
    path = tmp_path / "bomb.png"
    path.write_bytes(png)
    run = verify_cli(str(path), trust=world.trust_file, at=NOW)
    assert run.returncode == 3 and "too large to decode" in run.stderr, run.stderr


def test_largest_accepted_rgba_png_with_a_qr_decodes_within_budget(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Just under the bound (16 MP RGBA, 64 MiB raster): decoded, the QR found, peak under the budget."""
    from PIL import Image

    code = Image.open(io.BytesIO(qr_png(world.issued["business-licence-jinan"].qr_payload, scale=12))).convert("RGBA")
    frame = Image.new("RGBA", (4096, 4000), (255, 255, 255, 255))
    frame.paste(code, (1500, 1500))
    buf = io.BytesIO()
    frame.save(buf, "PNG", compress_level=1)
    out = _kiosk_peak(world, tmp_path, buf.getvalue())
    assert out["status"] == 200 and out["doc"]["status"] == "VALID", out["doc"]
    assert out["peak_mb"] <= PEAK_BUDGET_MB, out


def test_large_jpeg_photo_is_decoded_reduced(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 36 MP JPEG (a phone photo) is decoded at reduced DCT scale in grey: no refusal, bounded peak."""
    from PIL import Image

    code = Image.open(io.BytesIO(qr_png(world.issued["business-licence-jinan"].qr_payload, scale=24))).convert("RGB")
    frame = Image.new("RGB", (7200, 5000), (250, 250, 250))
    frame.paste(code, (2500, 1500))
    buf = io.BytesIO()
    frame.save(buf, "JPEG", quality=90)
    del frame
    out = _kiosk_peak(world, tmp_path, buf.getvalue())
    assert out["status"] == 200 and out["doc"]["status"] == "VALID", out["doc"]
    assert out["peak_mb"] <= PEAK_BUDGET_MB, out
