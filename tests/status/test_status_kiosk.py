"""Suspend / reinstate / revoke / supersede from the CLI down to a running kiosk's offline bundle."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest

from elicense.cli import run


@pytest.fixture(scope="module")
def live(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A demo world at the real current time: the CLI reads the clock."""
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("live"), now=now, seed=b"status-kiosk", images=False, pdf=False)


def _qr_png(payload: str) -> bytes:
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=6, border=4)
    return buf.getvalue()


def test_every_change_reaches_the_kiosk(live, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier

    home = tmp_path / "home"
    shutil.copytree(live.home.path, home)
    installed = home / "kiosk-bundle.cose"
    shutil.copyfile(home / "trust-bundle.cose", installed)
    clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # noqa: E731 - after each new bundle
    app = make_app(Verifier.from_trust_file(installed, clock=clock), bundle_path=installed)
    app._reload_interval = 0.0
    h = ["--home", str(home)]

    def publish() -> None:  # the issuer's routine: fresh bundle, installed on the kiosk by `trust update`
        newer = tmp_path / "newer.cose"
        assert run(["bundle", *h, "-o", str(newer)]) == 0
        assert run(["trust", "update", str(installed), str(newer)]) == 0

    def kiosk(name_or_payload: str) -> dict:  # type: ignore[type-arg]
        payload = live.issued[name_or_payload].qr_payload if name_or_payload in live.issued else name_or_payload
        return app.handle("POST", "/api/verify", _qr_png(payload)).json()  # type: ignore[no-any-return]

    lid = str(live.issued["business-licence-nanjing"].licence.id)
    assert kiosk("business-licence-nanjing")["status"] == "VALID"
    steps = [
        (["suspend", lid], "INVALID", "licence_suspended", "暂扣"),
        (["reinstate", lid], "VALID", None, None),
        (["revoke", lid, "--reason", "吊销"], "INVALID", "licence_revoked", "吊销"),
    ]
    shown = "VALID"
    for args, status, code, zh in steps:
        assert run([*args, *h]) == 0
        assert kiosk("business-licence-nanjing")["status"] == shown  # not published yet: the kiosk's view stands
        publish()
        doc = kiosk("business-licence-nanjing")
        assert doc["status"] == status, (args, doc["reasons"])
        if code is not None:
            reason = next(x for x in doc["reasons"] if x["code"] == code)
            assert zh in reason["zh"]
        shown = status
    # supersede: a new version names the old one; the kiosk shows the old one superseded, the new one valid
    old = live.issued["business-licence-jinan"].licence
    capsys.readouterr()
    fields = ["source_id=KIOSK-2", f"holder_name={old.holder.name}", f"holder_code={old.holder.code}",
              "entity_type=有限责任公司", "法定代表人=李珺", "establishment_date=2020-01-02", "domicile=济南",
              "business_scope=软件开发", f"serial={old.id.serial}", f"version={old.id.version + 1}",
              f"supersedes={old.id}"]  # fmt: skip
    args = ["issue", "--type", "business-licence", *h, "--authority", old.issuer.code, "--json", "--no-progress"]
    for f in fields:
        args += ["--field", f]
    assert run(args) == 0
    new = json.loads(capsys.readouterr().out)
    assert run(["supersede", str(old.id), "--with", new["id"], *h]) == 0
    publish()
    doc = kiosk("business-licence-jinan")
    assert doc["status"] == "INVALID"
    reason = next(x for x in doc["reasons"] if x["code"] == "licence_superseded")
    assert new["id"] in reason["en"] and new["id"] in reason["zh"]
    assert kiosk(new["qr_payload"])["status"] == "VALID"
    assert app.reloads == 4
