"""QR payload verification vs one raw ECDSA P-256 verify of the same bytes; CLI cold start.

Run: .venv/bin/python benchmarks/bench_qr.py [--quick]
Prints a table (figure, baseline, ratio). Ratios, not absolute times, are the point:
both sides are measured in the same run on the same machine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import resource
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
from elicense.qr import cbor
from elicense.qr.claims import K_LICENCE
from elicense.qr.cose import parse_sign1, sign1
from elicense.qr.payload import unwrap, wrap
from elicense.verify import Verifier

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def per_call(fns, rounds: int, n: int = 100) -> list[float]:  # type: ignore[no-untyped-def]
    """Best mean CPU seconds per call of each function, measured in alternating short rounds of ``n`` calls.

    Alternating (raw, full, raw, full, ...) exposes both sides to the same moments of a
    shared machine; the thread's CPU time leaves out the time other jobs hold the core;
    the best round of each side is its figure. Both sides are measured the same way.
    """
    best = [float("inf")] * len(fns)
    clock = time.thread_time
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = clock()
            for _ in range(n):
                fn()
            best[i] = min(best[i], (clock() - t0) / n)
    return best


# Bytecode as an installed package has it (pip compiles on install): the cold start must not
# measure compiling our sources because the environment sets PYTHONDONTWRITEBYTECODE; output
# buffered as in a user's shell (this machine's environment also sets PYTHONUNBUFFERED).
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}


def cold_start(cmds: list[list[str]], runs: int) -> tuple[list[float], list[float]]:
    """Median wall time and median CPU time (user + sys) of each command, runs alternating between them."""
    for cmd in cmds:  # warm-up: bytecode written, files in the page cache
        subprocess.run(cmd, capture_output=True, check=False, env=ENV)
    times: list[list[float]] = [[] for _ in cmds]
    cpu: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=False, env=ENV)
            times[i].append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[i].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return [statistics.median(t) for t in times], [statistics.median(c) for c in cpu]


def distinct_texts(world, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` distinct valid payloads: the benchmark licence re-signed under new serials."""
    issued = world.issued["business-licence-jinan"]
    msg = parse_sign1(unwrap(issued.qr_payload))
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    top = dict(cbor.loads(msg.payload))
    claims = dict(top[K_LICENCE])  # the licence claims inside the CWT claims set
    top[K_LICENCE] = claims
    out = []
    for i in range(count):
        claims[2] = [claims[2][0], 370100000900000 + i, claims[2][2]]
        out.append(wrap(sign1(cbor.dumps(top), signer, msg.kid)))
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 60 if quick else 300
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

        texts = distinct_texts(world, 256)
        assert all(verifier.verify(t) for t in texts)
        cycle = itertools.cycle(texts).__next__
        raw, full, distinct = per_call(
            [lambda: key.verify(der, tbs, algo), lambda: verifier.verify(text), lambda: verifier.verify(cycle())],
            rounds,
        )
        print(f"payload: {len(text)} Base45 characters")
        rows = [("QR verify (in process, warm)", full, raw)]

        qr_txt = Path(tmp) / "x.qr.txt"
        qr_txt.write_text(text)
        exe = str(Path(sys.executable).parent / "elicense")
        runs = 7 if quick else 21
        (cli, base, base2), (cli_cpu, base_cpu, _) = cold_start(
            [
                [exe, "verify", str(qr_txt), "--trust", str(world.trust_file), "--at", "2026-06-01T00:00:00Z"],
                [sys.executable, "-c", "import cryptography.x509"],
                [sys.executable, "-c", "import cryptography"],
            ],
            runs,
        )
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
        f"{'QR verify, 256 distinct payloads':<40} {distinct * 1e6:>10.1f}µs {raw * 1e6:>10.1f}µs "
        f"{distinct / raw:>6.2f}×   (no per-licence cache can help)"
    )
    print(
        f"{'CLI cold start: elicense verify X.qr.txt':<40} {cli * 1e3:>10.1f}ms "
        f"{base * 1e3:>10.1f}ms {cli / base:>6.2f}×"
        "   (baseline: python -c 'import cryptography.x509')"
    )
    print(
        f"{'':<40} {'':>12} {base2 * 1e3:>10.1f}ms {cli / base2:>6.2f}×   (baseline: python -c 'import cryptography')"
    )
    print(
        f"{'  (same runs, CPU time user+sys)':<40} {cli_cpu * 1e3:>10.1f}ms {base_cpu * 1e3:>10.1f}ms "
        f"{cli_cpu / base_cpu:>6.2f}×   (baseline: python -c 'import cryptography.x509')"
    )
    print(f"heavy modules imported on the text verify path: {heavy or 'none'}")
    # Machine-readable lines for benchmarks/run_all.py (the table above is for people)
    result(
        "QR verify, warm, in process (trust + status included)",
        full * 1e6,
        "µs",
        raw * 1e6,
        "µs",
        "raw P-256 verify",
        full / raw,
        "≤ 1.3×",
        full / raw <= 1.3,
    )
    result(
        "QR verify, warm, 256 distinct payloads in rotation",
        distinct * 1e6,
        "µs",
        raw * 1e6,
        "µs",
        "raw P-256 verify",
        distinct / raw,
        "≤ 1.3×",
        distinct / raw <= 1.3,
    )
    result(
        "CLI cold start: elicense verify X.qr.txt",
        cli * 1e3,
        "ms",
        base * 1e3,
        "ms",
        "python -c 'import cryptography.x509'",
        cli / base,
        "≤ 2×",
        cli / base <= 2.0,
    )
    result(
        "CLI cold start, CPU time (user + sys)",
        cli_cpu * 1e3,
        "ms",
        base_cpu * 1e3,
        "ms",
        "python -c 'import cryptography.x509'",
        cli_cpu / base_cpu,
        "≤ 2×",
        cli_cpu / base_cpu <= 2.0,
    )
    result("heavy modules on the text verify path", float(len(heavy)), "modules", None, "", ", ".join(heavy) or "none",
           None, "none", not heavy)  # fmt: skip


def result(
    figure: str, value: float, unit: str, baseline: float | None, baseline_unit: str, baseline_label: str,
    ratio: float | None, target: str, met: bool,
) -> None:  # fmt: skip
    """One ``RESULT {json}`` line (the protocol of ``benchmarks/run_all.py``)."""
    print("RESULT " + json.dumps({
        "figure": figure, "value": value, "unit": unit, "baseline": baseline, "baseline_unit": baseline_unit,
        "baseline_label": baseline_label, "ratio": ratio, "target": target, "met": met,
    }, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
