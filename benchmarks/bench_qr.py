"""QR payload verification vs one raw ECDSA P-256 verify of the same bytes; CLI cold start.

Run: .venv/bin/python benchmarks/bench_qr.py [--quick]
Prints a table (figure, baseline, ratio). Ratios, not absolute times, are the point:
both sides are measured in the same run on the same machine.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from elicense.demo import build_demo
from elicense.qr.cose import parse_sign1
from elicense.qr.payload import unwrap
from elicense.verify import Verifier

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def per_call(fn, n: int, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Best-of-``repeat`` mean seconds per call."""
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n)
    return min(best)


def cold_start(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    quick = "--quick" in sys.argv
    n = 500 if quick else 3000
    with tempfile.TemporaryDirectory() as tmp:
        world = build_demo(Path(tmp) / "w", now=NOW, seed=b"bench", images=False)
        text = world.issued["business-licence-jinan"].qr_payload
        verifier = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
        assert verifier.verify(text), "benchmark payload must verify"
        msg = parse_sign1(unwrap(text))
        key = verifier.trust.candidates(msg.kid)[0].public_key
        assert isinstance(key, ec.EllipticCurvePublicKey)
        tbs = msg.to_be_signed()
        der = encode_dss_signature(int.from_bytes(msg.signature[:32], "big"), int.from_bytes(msg.signature[32:], "big"))
        algo = ec.ECDSA(hashes.SHA256())

        raw = per_call(lambda: key.verify(der, tbs, algo), n)
        full = per_call(lambda: verifier.verify(text), n)
        print(f"payload: {len(text)} Base45 characters")
        rows = [("QR verify (in process, warm)", full, raw)]

        qr_txt = Path(tmp) / "x.qr.txt"
        qr_txt.write_text(text)
        exe = str(Path(sys.executable).parent / "elicense")
        runs = 5 if quick else 15
        cli = cold_start(
            [exe, "verify", str(qr_txt), "--trust", str(world.trust_file), "--at", "2026-06-01T00:00:00Z"], runs
        )
        base = cold_start([sys.executable, "-c", "import cryptography.x509"], runs)
        base2 = cold_start([sys.executable, "-c", "import cryptography"], runs)
        mods = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "elicense.cli",
                "verify",
                str(qr_txt),
                "--trust",
                str(world.trust_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stderr
        heavy = sorted({m for m in ("pyhanko", "PIL", "lxml", "sqlalchemy", "signxml", "fpdf") if f" {m}" in mods})

    print(f"{'figure':<40} {'value':>12} {'baseline':>12} {'ratio':>7}")
    for name, value, baseline in rows:
        print(f"{name:<40} {value * 1e6:>10.1f}µs {baseline * 1e6:>10.1f}µs {value / baseline:>6.2f}×")
    print(f"{'  (= verifications per second)':<40} {1 / full:>12.0f}")
    print(
        f"{'CLI cold start: elicense verify X.qr.txt':<40} {cli * 1e3:>10.1f}ms "
        f"{base * 1e3:>10.1f}ms {cli / base:>6.2f}×"
        "   (baseline: python -c 'import cryptography.x509')"
    )
    print(
        f"{'':<40} {'':>12} {base2 * 1e3:>10.1f}ms {cli / base2:>6.2f}×   (baseline: python -c 'import cryptography')"
    )
    print(f"heavy modules imported on the text verify path: {heavy or 'none'}")


if __name__ == "__main__":
    main()
