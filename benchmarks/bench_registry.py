"""Bulk issuance throughput: licences/s for a paper-era CSV (QR payload only, optionally PDFs),
on SQLite and PostgreSQL, with 1 and 2 worker processes.

    .venv/bin/python benchmarks/bench_registry.py [--rows 10000] [--pdf-rows 50] [--no-pg]

Reports, per configuration, licences/s and the ratio to the raw signing floor measured in
the same run (two ES256 signatures per licence: QR claims + full record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import registry_support as rs
from elicense.documents import PdfDocuments
from elicense.home import Home
from elicense.registry import Registry, sqlite_url
from elicense.registry.batch import run_batch

TYPE_CODE = "11100000MB0143028R001"


def sign_floor(home: Home, n: int = 2000) -> float:
    """Signatures/s of the raw signer (the floor of issuing)."""
    signer = home.signer(home.authority_for_type("11100000MB0143028R001"))
    msg = b"x" * 200
    t0 = time.perf_counter()
    for _ in range(n):
        signer.sign(msg)
    return n / (time.perf_counter() - t0)


def one(label: str, home: Home, url: str, data: bytes, workers: int, rows: int, pdf: Path | None, floor: float) -> None:
    t0 = time.perf_counter()
    report = run_batch(
        data,
        home=home,
        url=url,
        type_code=rs.TYPE,
        at=dt.datetime.now(dt.UTC),
        actor="bench",
        workers=workers,
        documents=None if pdf is None else PdfDocuments(home, home.authority_for_type(TYPE_CODE).code, pdf),
        chunk_size=250 if pdf is None else 10,
    )
    wall = time.perf_counter() - t0
    assert report.issued == rows, report
    with Registry.open(url) as reg:
        assert reg.count() == rows
        assert reg.verify_audit().ok
    rate = rows / wall
    print(
        f"{label:<34} {rows:>6} rows  {wall:7.2f} s  {rate:8.1f} licences/s  "
        f"(sign floor {floor / 2:.0f}/s per core: {floor / 2 / rate:.1f}x)"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--pdf-rows", type=int, default=50)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    try:
        base = Home.load(rs.demo_home(tmp / "base"))
        floor = sign_floor(base)
        data = rs.csv_bytes([rs.row(i) for i in range(args.rows)])
        pdf_data = rs.csv_bytes([rs.row(i) for i in range(args.pdf_rows)])
        backends = ["sqlite"] + ([] if args.no_pg else ["postgresql"])
        for backend in backends:
            for workers in (1, 2):
                for kind, payload, n in (("qr", data, args.rows), ("pdf", pdf_data, args.pdf_rows)):
                    if n == 0:
                        continue
                    home = Home.load(rs.demo_home(tmp / f"{backend}-{workers}-{kind}"))
                    if backend == "sqlite":
                        url = sqlite_url(home.path / "registry.sqlite")
                    else:
                        try:
                            url = rs.pg_database()
                        except RuntimeError as exc:
                            print(f"postgresql skipped: {exc}")
                            break
                    pdf = home.path / "pdf" if kind == "pdf" else None
                    one(f"{backend} {kind} workers={workers}", home, url, payload, workers, n, pdf, floor)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
