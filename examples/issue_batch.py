"""Paper-era import (存量证照电子化) from Python: a CSV of old 营业执照 becomes signed
electronic licences in the registry, exactly once, with an audit trail.

    python examples/issue_batch.py [WORKDIR]

Builds a demo issuer home in WORKDIR (default: a new directory under the system's temporary
directory, kept afterwards so the report it names can be read), issues
``examples/paper-era-business-licences.csv`` (3 of its 18 rows are deliberately bad and
land in the report), runs it again to show nothing is issued twice, verifies the audit
chain and one QR payload. The CLI equivalent is
``elicense issue --batch examples/paper-era-business-licences.csv --type business-licence --home DIR``.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from elicense.demo import build_demo
from elicense.registry import Registry
from elicense.registry.batch import run_batch
from elicense.verify.verifier import Verifier

CSV = Path(__file__).with_name("paper-era-business-licences.csv")


def main(workdir: Path) -> int:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    home = build_demo(workdir / "home", now=now, images=False).home
    data = CSV.read_bytes()
    common = {"home": home, "url": home.registry_url, "type_code": "business-licence", "at": now,
              "actor": "example@issue_batch", "report_path": workdir / "rejected.csv"}  # fmt: skip
    first = run_batch(data, **common)  # type: ignore[arg-type]
    print(f"first run : {first.issued} issued, {first.rejected} rejected -> {first.report_path}")
    for line in (workdir / "rejected.csv").read_text("utf-8").splitlines()[1:]:
        print("   rejected:", line)
    second = run_batch(data, **common)  # type: ignore[arg-type]
    print(f"second run: {second.issued} issued, {second.already_issued} already issued")
    with Registry.open(home.registry_url) as reg:
        audit = reg.verify_audit()
        print(f"audit log : {'intact' if audit.ok else 'BROKEN'} ({audit.entries} entries)")
        rec = reg.query(source_id="JN1998-000001")[0]
    result = Verifier(trust=home.trust_store()).verify(rec.qr_payload, at=now)
    print(f"licence   : {rec.id} {rec.holder_name} -> {result.status.value}")
    ok = first.issued == 15 and first.rejected == 3 and second.issued == 0 and audit.ok
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    # no WORKDIR: a fresh directory that is kept, so the report path printed above still exists afterwards
    kept = Path(tempfile.mkdtemp(prefix="elicense-issue-batch-"))
    code = main(kept)
    print(f"kept      : {kept} (the home, its registry and rejected.csv; delete it when done)")
    sys.exit(code)
