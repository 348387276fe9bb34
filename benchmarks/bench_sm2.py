"""SM2/SM3 sign and verify per second next to ECDSA P-256/SHA-256, in the same run.

Run: .venv/bin/python benchmarks/bench_sm2.py [--quick]
Also measured: the backends we evaluated for SM2 (if installed), a full SM2 QR payload
verification, an SES_Signature verification, SM2 chain validation, and trust data of an
all-SM2 world next to the ES256 one (XML region list verify: signxml vs the SM2 profile;
bundle load on the verifier's path). Ratios against P-256 measured in the same process
are the point, not absolute numbers. ``run(quick)`` returns the rows for a common runner.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.crypto import sm2

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
MSG = b"x" * 200  # about the size of a COSE Sig_structure for a QR payload


def per_call(fn: Callable[[], object], n: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` mean seconds per call."""
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n)
    return min(best)


def run(quick: bool = False) -> list[dict[str, float | str]]:
    """All rows: ``name``, ``us_per_op``, ``ops_per_s``, ``x_p256_verify`` (ratio in the same run)."""
    rows = _measure(quick)
    p256_verify = rows[1][1]
    return [
        {"name": name, "us_per_op": secs * 1e6, "ops_per_s": 1 / secs, "x_p256_verify": secs / p256_verify}
        for name, secs in rows
    ]


def _trust_rows(n: int) -> list[tuple[str, float]]:
    """Region-list verify and bundle load, ES256 world vs SM2 world (same PKI shape, same data)."""
    from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
    from elicense.demo import build_demo
    from elicense.trust.bundle import read_bundle_file
    from elicense.trust.lists import read_national_list, read_region_list

    out: list[tuple[str, float]] = []
    allow = AlgorithmPolicy(frozenset(Algorithm))
    for alg in (Algorithm.ES256, Algorithm.SM2):
        with tempfile.TemporaryDirectory() as tmp:
            world = build_demo(Path(tmp), now=NOW, seed=b"bench", images=False, pdf=False, algorithm=alg)
            bundle = read_bundle_file(world.trust_file, algorithms=allow)
            national, _ = read_national_list(bundle.national_xml, roots=[bundle.current_root], algorithms=allow)
            pointer = national.pointers[0]
            data = bundle.region_xml[pointer.region]
            roots = [bundle.current_root]

            def verify_list(data: bytes = data, pointer: object = pointer, roots: list[object] = roots) -> object:
                return read_region_list(data, pointer=pointer, roots=roots, algorithms=allow)  # type: ignore[arg-type]

            def load(path: Path = world.trust_file) -> object:
                return read_bundle_file(path, algorithms=allow)

            out.append((f"XML region list verify, {alg.label}", per_call(verify_list, max(n // 40, 5), 3)))
            out.append((f"trust bundle load (index path), {alg.label}", per_call(load, max(n // 40, 5), 3)))
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"{'operation':52} {'µs/op':>10} {'ops/s':>10} {'× P-256 verify':>15}")
    for row in run(quick):
        print(f"{row['name']:52} {row['us_per_op']:10.1f} {row['ops_per_s']:10.0f} {row['x_p256_verify']:15.2f}")


def _measure(quick: bool) -> list[tuple[str, float]]:
    n = 200 if quick else 2000
    rows: list[tuple[str, float]] = []

    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_sig = p256.sign(MSG, ec.ECDSA(hashes.SHA256()))
    p256_pub = p256.public_key()
    rows.append(("ECDSA P-256 sign (cryptography)", per_call(lambda: p256.sign(MSG, ec.ECDSA(hashes.SHA256())), n)))
    rows.append(("ECDSA P-256 verify (cryptography)",
                 per_call(lambda: p256_pub.verify(p256_sig, MSG, ec.ECDSA(hashes.SHA256())), n)))  # fmt: skip

    key = sm2.Sm2PrivateKey.generate()
    pub = key.public_key()
    sig = key.sign(MSG)
    rows.append(("SM2 sign (elicense / tongsuopy)", per_call(lambda: key.sign(MSG), n)))
    rows.append(("SM2 verify (elicense / tongsuopy)", per_call(lambda: pub.verify(sig, MSG), n)))
    raw = sm2.der_to_raw(sig)

    try:
        import gmalglib

        g = gmalglib.sm2.SM2(pk=pub.point)
        rows.append(("SM2 verify (gmalglib, C)", per_call(lambda: g.verify(MSG, raw), n)))
    except ImportError:
        pass
    try:
        import gmalg

        gp = gmalg.SM2(pk=pub.point, uid=sm2.DEFAULT_USER_ID)
        rows.append(("SM2 verify (gmalg, pure Python)", per_call(lambda: gp.verify(MSG, raw[:32], raw[32:]), 10, 2)))
    except ImportError:
        pass

    from elicense.cli.sm2 import build_sm2_demo
    from elicense.seal.verify import trust_from_store, verify_signature
    from elicense.trust.file import load_trust_file
    from elicense.verify import Verifier

    with tempfile.TemporaryDirectory() as tmp:
        demo = build_sm2_demo(Path(tmp), now=NOW, images=False)
        trust = load_trust_file(demo.trust_file)
        verifier = Verifier(trust=trust, algorithms=["SM2"])
        payload = demo.issued.qr_payload
        assert verifier.verify(payload, at=NOW).valid
        qr_cost = per_call(lambda: verifier.verify(payload, at=NOW), n // 4)
        rows.append(("SM2 QR payload verify (full Verifier)", qr_cost))
        ses_der = demo.signature_file.read_bytes()
        doc = demo.payload_file.read_bytes()
        ses_trust = trust_from_store(trust)
        assert verify_signature(ses_der, document=doc, trust=ses_trust, at=NOW, algorithms=None).valid
        rows.append(
            (
                "SES_Signature verify (8 steps, 2 chains, 4 CRLs)",
                per_call(lambda: verify_signature(ses_der, document=doc, trust=ses_trust, at=NOW), n // 20, 3),
            )
        )
        root, ca = trust.roots[0], next(iter(trust.keys.values()))[0].chain.chain[1]
        leaf = next(iter(trust.keys.values()))[0].certificate
        rows.append(("SM2 3-level chain validation", per_call(
            lambda: sm2.validate_sm2_chain(leaf, roots=[root], intermediates=[ca]), n // 20, 3)))  # fmt: skip
    rows.extend(_trust_rows(n))
    return rows


if __name__ == "__main__":
    main()
