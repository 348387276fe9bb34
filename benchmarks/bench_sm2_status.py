"""SM2 status data against ES256, in one run: CRL build and check, status-list sign and verify.

Run: .venv/bin/python benchmarks/bench_sm2_status.py [--crl-entries 100000] [--quick]

Prints, for the same revoked entries, an SM2 CRL (asn1crypto + SM2 signature, ``build_sm2_crl``)
against a P-256 CRL (``cryptography``'s builder, ``build_crl``): build time, DER size, and the
verifier's parse + signature check + index of the trusted serials (``load_crl`` + ``index_crl``);
then a 131,072-entry status list signed and verified with SM2 against ES256.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from elicense.crypto.algorithms import Algorithm, verify_cose_signature
from elicense.crypto.keys import Sm2Signer, SoftwareSigner
from elicense.crypto.pki import make_root
from elicense.crypto.sm2 import Sm2PrivateKey, make_sm2_root
from elicense.qr.cose import parse_sign1
from elicense.status.crl import RevokedCert, build_crl, build_sm2_crl, index_crl, load_crl
from elicense.status.reasons import ListState
from elicense.status.statuslist import Entry, sign_status_list

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crl-entries", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 10_000 if args.quick else args.crl_entries
    repeat = 3
    nb, na = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=3650)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_root = make_root(ec_key, "ES256 根", not_before=nb, not_after=na)
    gm_key = Sm2PrivateKey.generate()
    gm_root = make_sm2_root(gm_key, "SM2 根", not_before=nb, not_after=na)
    revoked = [RevokedCert(1000 + i, NOW - dt.timedelta(minutes=i), "key_compromise" if i % 7 == 0 else "unspecified")
               for i in range(n)]  # fmt: skip
    wanted = {1000, 1000 + n // 2, 99}

    t_ec_build = best(lambda: build_crl(ec_root, ec_key, revoked, last_update=NOW, number=1), repeat)
    t_gm_build = best(lambda: build_sm2_crl(gm_root, gm_key, revoked, last_update=NOW, number=1), repeat)
    ec_der = build_crl(ec_root, ec_key, revoked, last_update=NOW, number=1).public_bytes(Encoding.DER)
    gm_der = build_sm2_crl(gm_root, gm_key, revoked, last_update=NOW, number=1)
    t_ec_check = best(lambda: index_crl(load_crl(ec_der), [ec_root], serials=wanted), repeat)
    t_gm_check = best(lambda: index_crl(load_crl(gm_der), [gm_root], serials=wanted), repeat)
    assert index_crl(load_crl(gm_der), [gm_root], serials=wanted).revoked.keys() == {1000, 1000 + n // 2}

    print(f"CRL with {n} revoked certificates (best of {repeat})")
    print(f"  build       P-256 {t_ec_build * 1e3:8.1f} ms   SM2 {t_gm_build * 1e3:8.1f} ms   "
          f"ratio {t_gm_build / t_ec_build:5.2f}×")  # fmt: skip
    print(f"  DER size    P-256 {len(ec_der) / 1e6:8.2f} MB   SM2 {len(gm_der) / 1e6:8.2f} MB")
    print(f"  load+check  P-256 {t_ec_check * 1e3:8.1f} ms   SM2 {t_gm_check * 1e3:8.1f} ms   "
          f"ratio {t_gm_check / t_ec_check:5.2f}×")  # fmt: skip

    entries = [Entry(i * 13, ListState.REVOKED) for i in range(1000)]
    ec_signer = SoftwareSigner(ec_key, ec_root)
    gm_signer = Sm2Signer(gm_key, gm_root)
    lists = {}
    for label, signer in (("ES256", ec_signer), ("SM2", gm_signer)):
        t_sign = best(lambda s=signer: sign_status_list(s, issuer="X", sequence=1, issued_at=NOW,  # type: ignore[misc]
                                                          entries=entries), repeat)  # fmt: skip
        lists[label] = (t_sign, sign_status_list(signer, issuer="X", sequence=1, issued_at=NOW, entries=entries))
    from elicense.crypto.pki import public_key_of

    keys = {"ES256": (public_key_of(ec_root), Algorithm.ES256), "SM2": (public_key_of(gm_root), Algorithm.SM2)}
    print("status list, 131,072 entries, 1,000 revoked (best of 3)")
    verify_t = {}
    for label, (t_sign, raw) in lists.items():
        msg = parse_sign1(raw)
        key, alg = keys[label]
        assert verify_cose_signature(key, alg, msg.signature, msg.to_be_signed())
        verify_t[label] = best(lambda m=msg, k=key, a=alg: verify_cose_signature(k, a, m.signature,  # type: ignore[misc]
                                                                                 m.to_be_signed()), 50)  # fmt: skip
        print(f"  {label:6s} sign {t_sign * 1e3:7.2f} ms   signature check {verify_t[label] * 1e6:7.1f} µs")
    print(f"  SM2/ES256 signature check ratio {verify_t['SM2'] / verify_t['ES256']:5.2f}×")


if __name__ == "__main__":
    main()
