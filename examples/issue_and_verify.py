"""Issue a licence with the Python API and verify it offline, as a portal backend and a kiosk would.

Run: .venv/bin/python examples/issue_and_verify.py [WORKDIR]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from elicense.demo import build_demo
from elicense.identifiers import USCC
from elicense.issue import LicenceBuilder, sign_licence
from elicense.model import Holder, HolderType
from elicense.qr.render import qr_png, qr_version
from elicense.verify import Verifier


def main(workdir: Path) -> int:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # 1. An issuing setup (keys, certificates, trust file). A real portal loads its own home.
    world = build_demo(workdir / "home", now=now, images=False)
    home = world.home
    authority = home.authority("济南市行政审批服务局")

    # 2. Build and sign a business licence. Every setter validates; build() checks the catalogue.
    licence = (
        LicenceBuilder()
        .licence_type("business-licence")
        .serial("370100000777001")
        .holder(Holder("济南示例数据服务有限公司", str(USCC.build("91", "370102", "MA7EXAM1")), HolderType.USCC))
        .issuer(authority.authority)
        .issued_on(now.date())
        .validity(now.date(), None)  # 长期
        .fields(
            {
                "entity_type": "有限责任公司",
                "legal_representative": "张三",
                "establishment_date": now.date().isoformat(),
                "domicile": "山东省济南市历下区示例路 1 号",
                "business_scope": "数据处理服务。",
            }
        )
        .status_index()
        .build()
    )
    issued = sign_licence(licence, home.signer(authority), at=now)
    (workdir / "licence.qr.png").write_bytes(qr_png(issued.qr_payload))
    print(f"issued {licence.id}  (QR version {qr_version(issued.qr_payload)}-M)")

    # 3. A kiosk verifies offline against its trust file.
    verifier = Verifier.from_trust_file(world.trust_file)
    result = verifier.verify(issued.qr_payload)
    print(result.status.value, result.status.label("zh"), result.licence.holder_name if result.licence else "")
    return 0 if result else 1


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="elicense-example-"))
    sys.exit(main(target))
