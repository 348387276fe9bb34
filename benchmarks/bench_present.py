"""Presentation QR (亮证): size per licence type, and verify cost vs the EL1 QR and raw ECDSA.

Run: .venv/bin/python benchmarks/bench_present.py [--quick]
Prints the size table of specs/presentation.md §8 (deterministic demo world; the random
salts and nonce do not change lengths) and per-verification times with their ratios to one
raw P-256 verify measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.catalog import Catalog
from elicense.demo import build_demo
from elicense.present import SoftwareDeviceKey, issue_holder_credential, make_presentation
from elicense.present import presentation as p
from elicense.present.verify import ReplayCache
from elicense.qr.render import qr_version
from elicense.verify import Verifier

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
SAMPLES = ("resident-id-card-nanjing", "driving-licence-nanjing", "business-licence-jinan", "real-estate-title-nanjing")


def per_call(fn, n: int, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Best-of-``repeat`` mean seconds per call."""
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n)
    return min(best)


def main() -> None:
    n = 50 if "--quick" in sys.argv else 500
    world = build_demo(Path(tempfile.mkdtemp()), now=NOW, seed=b"elicense-test-pki", images=False, pdf=False)
    verifier = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
    catalog = Catalog.default()
    print(f"{'licence':<30} {'elements':>8} {'disclosed':<36} {'bytes':>6} {'chars':>6} {'QR':>4} {'EL1':>4}")
    payloads = {}
    for name in SAMPLES:
        issued = world.issued[name]
        device = SoftwareDeviceKey.generate()
        signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
        cred = issue_holder_credential(issued.licence, signer, device.public_key, at=NOW)
        lt = catalog.get(issued.licence.type_code)
        show = ["holder_name", *[f.key for f in lt.fields if f.qr == "show" and f.key in cred.elements]]
        if len(show) < 2:
            show.append(next(k for k in cred.elements if k not in show and k != "holder_code"))
        pres = make_presentation(cred, device, show=show, now=NOW)
        payloads[name] = (pres.payload, issued.qr_payload, cred, device, show)
        size = len(p.unwrap(pres.payload))
        print(f"{lt.name_zh:<30} {len(cred.elements):>8} {','.join(show):<36} {size:>6} {len(pres.payload):>6} "
              f"{'v' + str(qr_version(pres.payload)):>4} {'v' + str(qr_version(issued.qr_payload)):>4}")  # fmt: skip

    payload, el1, cred, device, show = payloads["driving-licence-nanjing"]
    key = ec.generate_private_key(ec.SECP256R1())
    data = b"x" * 400
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    raw = per_call(lambda: pub.verify(sig, data, ec.ECDSA(hashes.SHA256())), n)
    t_el1 = per_call(lambda: verifier.verify(el1), n)

    def verify_presentation() -> None:
        verifier.replay_cache = ReplayCache()  # the same payload each time: not a replay for the benchmark
        verifier.verify(payload)

    t_pres = per_call(verify_presentation, n)
    t_make = per_call(lambda: make_presentation(cred, device, show=show, now=NOW), n)
    print()
    print(f"{'figure':<44} {'µs':>8} {'× raw P-256 verify':>20}")
    rows = [
        ("raw ECDSA P-256 verify", raw),
        ("EL1 QR verify (1 signature)", t_el1),
        ("EP1 presentation verify (2 signatures)", t_pres),
        ("make presentation (holder)", t_make),
    ]
    for label, t in rows:
        print(f"{label:<44} {t * 1e6:>8.0f} {t / raw:>20.2f}")


if __name__ == "__main__":
    main()
