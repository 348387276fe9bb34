"""OFD licence files: issuance against the SES signing alone; verification against SM3 of the package + raw SM2.

Run: .venv/bin/python benchmarks/bench_ofd.py [--quick]

In one run, on one SM2 demo licence (营业执照, Jinan):

* issue = lay out the page, cut the font to the document (fontTools, the per-document cost: the subset
  cache is cleared before every call), QR image, package, and seal (``seal_licence_ofd``) — against
  ``sign_ses`` alone over the same digest (one SM2 signature + DER);
* issue, warm = the same with the font subset cached (re-issuing a licence with the same characters);
* verify = read the package within bounds, recompute every reference, dataHash, Seal.esl, coverage
  (``check_ofd``) and verify the SES (signer and seal-maker SM2 signatures, chain, revocation:
  ``verify_ses``) — against SM3 of every file of the package plus the two raw SM2 verifies that
  verification needs (signer over TBS_Sign, maker over SES_SealInfo);
* container checks alone against SM3 of the package.

Figures are thread CPU time, best round, both sides alternating in the same run. Each figure is
printed as ``RESULT {json}`` (the protocol of ``run_all.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
SEED = b"elicense-bench-ofd"


def per_call(fns: list[Callable[[], object]], rounds: int, n: int) -> list[float]:
    """Best mean thread-CPU seconds per call of each function, in alternating rounds of ``n`` calls."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t0 = time.thread_time()
            for _ in range(n):
                fn()
            best[i] = min(best[i], (time.thread_time() - t0) / n)
    return best


def result(figure: str, value: float, unit: str, baseline: float, baseline_label: str) -> None:
    """One ``RESULT {json}`` line."""
    print("RESULT " + json.dumps({
        "figure": figure, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3),
        "baseline_unit": unit, "baseline_label": baseline_label, "ratio": round(value / baseline, 3),
        "target": "report", "met": True,
    }, ensure_ascii=False))  # fmt: skip


def main() -> None:
    quick = "--quick" in sys.argv
    rounds, n = (2, 2) if quick else (5, 5)
    from elicense.crypto.algorithms import Algorithm
    from elicense.crypto.sm2 import Sm2PublicKey, load_certificate
    from elicense.demo import build_demo
    from elicense.ofd import write as ofd_write
    from elicense.ofd.package import read_package
    from elicense.ofd.seal import seal_licence_ofd
    from elicense.ofd.verify import check_ofd, sm3
    from elicense.seal.api import parse_seal, parse_signature, sign_ses, verify_ses
    from elicense.seal.verify import trust_from_store
    from elicense.verify import Verifier

    with tempfile.TemporaryDirectory() as tmp:
        world = build_demo(Path(tmp) / "w", now=NOW, seed=SEED, images=True, pdf=False, algorithm=Algorithm.SM2)
        home = world.home
        issued = world.issued["business-licence-jinan"]
        entry = home.authority(issued.licence.issuer.code)
        seal = (home.path / home.extra["sm2_seals"]["seals"][entry.code]).read_bytes()
        signer = home.signer(entry)
        crls = home.entry_crls(entry, issued.signed_at)
        verifier = Verifier.from_trust_file(world.trust_file, algorithms=[Algorithm.SM2])
        trust = trust_from_store(verifier.trust)

    def issue() -> bytes:
        return seal_licence_ofd(ofd_write.build_licence_ofd(issued), seal=seal, signer=signer, at=issued.signed_at,
                                crls=crls)  # fmt: skip

    def issue_cold() -> bytes:
        ofd_write._SUBSETS.clear()
        return issue()

    digest = sm3(b"Signature.xml")

    def sign_only() -> bytes:
        return sign_ses(digest, "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, issued.signed_at, crls=crls)

    data = issue()
    files = list(read_package(data).files.values())
    report = check_ofd(data)
    (sig,) = report.signatures
    assert report.status.value == "VALID"

    def verify() -> object:
        rep = check_ofd(data)
        s = rep.signatures[0]
        return verify_ses(s.signed_value, data_hash=s.signature_xml_sm3, trust=trust, at=NOW)

    assert verify().status.value == "VALID"  # type: ignore[attr-defined]
    parsed = parse_signature(sig.signed_value)
    signer_key = Sm2PublicKey.from_certificate(load_certificate(parsed.signer_cert))
    seal_view = parse_seal(parsed.seal.der)
    maker_key = Sm2PublicKey.from_certificate(load_certificate(seal_view.maker_cert))
    from elicense.crypto.sm2 import raw_to_der

    def raw_sig(value: bytes) -> bytes:
        return value if value[:1] == b"\x30" else raw_to_der(value)

    tbs, tbs_sig = parsed.covers.data, raw_sig(parsed.signature)
    info, info_sig = seal_view.covers.data, raw_sig(seal_view.signed_value)
    assert signer_key.verify(tbs_sig, tbs)
    assert maker_key.verify(info_sig, info)

    def baseline_verify() -> None:
        for content in files:
            sm3(content)
        signer_key.verify(tbs_sig, tbs)
        maker_key.verify(info_sig, info)

    def sm3_package() -> None:
        for content in files:
            sm3(content)

    t_cold, t_warm, t_sign = per_call([issue_cold, issue, sign_only], rounds, n)
    result(
        "OFD licence issue (layout, per-document font subset, QR, package, seal)",
        t_cold * 1e3,
        "ms",
        t_sign * 1e3,
        "sign_ses alone (one SM2 signature + DER)",
    )
    result("OFD licence issue, font subset cached", t_warm * 1e3, "ms", t_sign * 1e3, "sign_ses alone")
    t_verify, t_base, t_check, t_sm3 = per_call(
        [verify, baseline_verify, lambda: check_ofd(data), sm3_package], rounds, n * 4
    )
    result(
        f"OFD verify (container checks + SES verify), {len(data) // 1024} KiB, {len(files)} files",
        t_verify * 1e3,
        "ms",
        t_base * 1e3,
        "SM3 of every file + 2 raw SM2 verifies (signer, seal maker)",
    )
    result(
        "OFD container checks alone (bounded read, references, dataHash, Seal.esl, coverage)",
        t_check * 1e3,
        "ms",
        t_sm3 * 1e3,
        "SM3 of every file",
    )


if __name__ == "__main__":
    main()
