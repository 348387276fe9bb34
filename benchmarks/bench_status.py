"""Status list vs CRL at scale; status-check overhead on a QR verification.

Run: .venv/bin/python benchmarks/bench_status.py [--entries 1000000] [--crl-entries 1000000] [--quick] [--overhead-only]

Prints, for the same number of revoked entries measured in the same run:
* a signed 2-bit status list: size, build+sign time, verify+decompress (load) time, µs per lookup;
* an X.509 CRL: build time with ``revoked_certificates=`` (O(n)) and the naive
  ``add_revoked_certificate`` loop (quadratic; measured on small n, extrapolated), DER size,
  and one chain validation through pyhanko-certvalidator with the CRL (hard-fail, no fetching);
* a QR verification with and without the status checks (target: ≤ 5 % overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.crypto.pki import make_end_entity, make_regional_ca, make_root
from elicense.status.crl import RevokedCert, build_crl, index_crl
from elicense.status.reasons import ListState
from elicense.status.statuslist import Entry, sign_status_list
from elicense.status.store import StatusStore

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_forms import build_crl_quadratic  # noqa: E402 - the loop build_crl replaces (tests/)


def per_call(fn, n: int, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n)
    return min(best)


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def status_list_part(world, entries: int, revoked_share: float) -> None:  # type: ignore[no-untyped-def]
    home = world.home
    auth = home.authorities[0]
    signer = home.signer(auth)
    trust = home.trust_store()
    size = 1 << max(17, (entries - 1).bit_length())
    rng = random.Random(1)
    picks = rng.sample(range(size), int(entries * revoked_share))
    states = (ListState.REVOKED, ListState.SUSPENDED, ListState.REVOKED)
    for label, with_detail in (("bits only", False), ("with details", True)):
        es = [Entry(i, states[n % 3], None, NOW - dt.timedelta(minutes=n) if with_detail else None)
              for n, i in enumerate(picks)]  # fmt: skip
        if not with_detail:  # details are omitted when there is neither reason nor time beyond the default
            es = [Entry(e.index, e.state) for e in es]
        data, t_build = timed(lambda es=es: sign_status_list(signer, issuer=auth.code, sequence=1,
                                                            issued_at=NOW, entries=es, size=size))  # fmt: skip
        store, t_load = timed(lambda data=data: StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True))
        assert not store.problems, store.problems
        idx = [rng.randrange(size) for _ in range(1000)]
        code = auth.code

        def lookups(store=store, idx=idx, code=code) -> None:  # type: ignore[no-untyped-def]
            for i in idx:
                store.check_licence(code, i, NOW)

        per = per_call(lookups, 20) / len(idx)
        print(f"status list {size:>9,} entries, {len(picks):>7,} not valid ({label:<12}): {len(data):>9,} B; "
              f"build+sign {t_build * 1e3:7.1f} ms; verify+decompress {t_load * 1e3:7.1f} ms; "
              f"lookup {per * 1e6:5.2f} µs")  # fmt: skip


def crl_part(n: int, quick: bool) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    start, end = NOW - dt.timedelta(days=365), NOW + dt.timedelta(days=365)
    root = make_root(root_key, "Bench Root", not_before=start, not_after=end)
    ca = make_regional_ca(ca_key, "Bench CA", province="山东省", issuer_cert=root, issuer_key=root_key,
                          not_before=start, not_after=end)  # fmt: skip
    leaf = make_end_entity(leaf_key.public_key(), "Bench Signer", uscc=None, province=None, issuer_cert=ca,
                           issuer_key=ca_key, not_before=start, not_after=end, serial=12345)  # fmt: skip
    revoked = [RevokedCert(10**9 + i, NOW - dt.timedelta(seconds=i), "key_compromise" if i % 7 == 0 else "unspecified")
               for i in range(n)]  # fmt: skip
    crl, t_fast = timed(lambda: build_crl(ca, ca_key, revoked, last_update=NOW, number=1))
    der = crl.public_bytes(serialization.Encoding.DER)
    print(f"CRL {n:>9,} entries: {len(der):>11,} B; build with revoked_certificates= {t_fast * 1e3:8.0f} ms")
    sizes = (1000, 2000, 4000) if quick else (2500, 5000, 10000)
    slow = []
    for k in sizes:
        _, t = timed(lambda k=k: build_crl_quadratic(ca, ca_key, revoked[:k], last_update=NOW,
                                                      next_update=NOW + dt.timedelta(days=7)))  # fmt: skip
        _, tf = timed(lambda k=k: build_crl(ca, ca_key, revoked[:k], last_update=NOW, number=1))
        slow.append((k, t))
        print(f"    {k:>6,} entries: add_revoked_certificate loop {t * 1e3:8.0f} ms vs revoked_certificates= "
              f"{tf * 1e3:6.1f} ms")  # fmt: skip
    (k1, t1), (k2, t2) = slow[-2], slow[-1]
    import math

    exponent = math.log(t2 / t1) / math.log(k2 / k1)
    extrapolated = t2 * (n / k2) ** exponent
    print(f"    loop grows as n^{exponent:.2f}: {n:,} entries would take ~{extrapolated:,.0f} s")
    _, t_index = timed(lambda: index_crl(crl, [ca]))
    _, t_target = timed(lambda: index_crl(crl, [ca], serials=[leaf.serial_number]))
    _, t_pass = timed(lambda: index_crl(crl, [ca], serials=range(10**6, 10**6 + 100)))
    print(
        f"    our load (verify signature + index, once per bundle load): full index {t_index * 1e3:8.0f} ms; "
        f"1 trusted serial {t_target * 1e3:6.1f} ms; 100 trusted serials (one pass) {t_pass * 1e3:6.0f} ms; "
        "then a dict lookup per licence"
    )

    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

    # Our certificates carry no CRL distribution point, so "hard-fail" alone would skip the CRL
    # entirely (measured: it then accepts a revoked leaf); require CRLs for every level instead.
    required = CertRevTrustPolicy(RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CRL_REQUIRED,
    ))  # fmt: skip
    root_crl = build_crl(root, root_key, [], last_update=NOW, number=1).public_bytes(serialization.Encoding.DER)

    def validate() -> None:
        ctx = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER))],
            other_certs=[asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))],
            crls=[der, root_crl], allow_fetching=False, revinfo_policy=required, moment=NOW,
        )  # fmt: skip
        validator = CertificateValidator(asn1_x509.Certificate.load(leaf.public_bytes(serialization.Encoding.DER)),
                                         validation_context=ctx)  # fmt: skip
        asyncio.run(validator.async_validate_usage({"digital_signature"}))

    _, t_val = timed(validate)
    print(f"    pyhanko-certvalidator chain validation with this CRL: {t_val * 1e3:8.0f} ms")


def overhead_part(world) -> None:  # type: ignore[no-untyped-def]
    from elicense.verify import Verifier

    with_status = Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
    assert with_status.status is not None
    without = Verifier(trust=with_status.trust, clock=lambda: NOW, status=None)
    payload = world.issued["business-licence-jinan"].qr_payload
    assert with_status.verify(payload).valid
    assert without.verify(payload).valid
    a, b = [], []
    for _ in range(7):
        a.append(per_call(lambda: without.verify(payload), 2000, repeat=1))
        b.append(per_call(lambda: with_status.verify(payload), 2000, repeat=1))
    base, full = statistics.median(a), statistics.median(b)
    status = with_status.status
    key = next(iter(with_status.trust.keys.values()))[0]
    idx = world.issued["business-licence-jinan"].licence.status_index
    code = key.authority.code

    def checks() -> None:
        status.check_chain(key, NOW, NOW)
        status.check_licence(code, idx, NOW)

    only = per_call(checks, 20000)
    print(f"QR verify with status vs without status (same verifier trust, same run, median of 7 × 2000): "
          f"{full * 1e6:6.1f} µs vs {base * 1e6:6.1f} µs = ratio {full / base:5.3f} "
          f"(+{(full / base - 1) * 100:4.1f} %, target ≤ 5 %); the two status checks alone {only * 1e6:5.2f} µs "
          f"= {only / base * 100:4.1f} % of a verification")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--crl-entries", type=int, default=None)
    parser.add_argument("--revoked-share", type=float, default=0.01)
    parser.add_argument("--quick", action="store_true", help="100k entries, small quadratic samples")
    parser.add_argument("--overhead-only", action="store_true", help="only the QR verify with/without status figure")
    args = parser.parse_args()
    entries = 100_000 if args.quick else args.entries
    crl_entries = args.crl_entries or entries
    from elicense.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        world = build_demo(Path(tmp), now=NOW, seed=b"bench", images=False, pdf=False)
        # first: after the 1M-entry CRL the process heap is fragmented and every µs figure drifts (±20 %)
        overhead_part(world)
        if args.overhead_only:
            return
        status_list_part(world, entries, args.revoked_share)
        print(f"(a list holds every licence; the CRL holds only revoked entries — below: {crl_entries:,} revoked)")
        crl_part(crl_entries, args.quick)


if __name__ == "__main__":
    main()
