"""``elicense revoke / suspend / reinstate / supersede / status`` end to end, down to verification."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from elicense.cli import run


@pytest.fixture(scope="module")
def live(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A demo world at the real current time: the CLI reads the clock."""
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("live"), now=now, seed=b"status-cli", images=False, pdf=False)


@pytest.fixture
def world(live):  # type: ignore[no-untyped-def]
    return live


@pytest.fixture
def demo(live, tmp_path):  # type: ignore[no-untyped-def]
    shutil.copytree(live.home.path, tmp_path / "d")
    return tmp_path / "d"


def _verify(capsys, demo, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    capsys.readouterr()
    run(["verify", str(demo / "licences" / f"{name}.qr.txt"), "--trust", str(demo / "trust-bundle.cose"), "--json"])
    return json.loads(capsys.readouterr().out)


def test_revoke_publish_verify(world, demo, capsys):  # type: ignore[no-untyped-def]
    lid = str(world.issued["business-licence-nanjing"].licence.id)
    home = ["--home", str(demo)]
    assert _verify(capsys, demo, "business-licence-nanjing")["status"] == "VALID"
    assert run(["suspend", lid, *home, "--json"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["to"] == "suspended" and event["reason"] == "suspended"
    assert run(["suspend", lid, *home]) == 3
    assert "cannot suspend" in capsys.readouterr().err
    assert run(["reinstate", lid, *home]) == 0
    assert run(["revoke", lid, "--reason", "吊销", *home, "--note", "处罚决定书 1 号"]) == 0
    assert run(["reinstate", lid, *home]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "revoked" in err and "Traceback" not in err
    assert run(["status", "show", lid, *home, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "revoked" and [e["action"] for e in shown["history"]] == [
        "issue", "suspend", "reinstate", "revoke"]  # fmt: skip
    # not visible to verifiers until published
    assert _verify(capsys, demo, "business-licence-nanjing")["status"] == "VALID"
    out = demo / "status.json"
    assert run(["status", "publish", *home, "-o", str(out)]) == 0
    assert json.loads(out.read_text())["format"] == "elicense-status/1"
    old_bundle = (demo / "trust-bundle.cose").read_bytes()
    assert run(["bundle", *home, "-o", str(demo / "trust-bundle.cose")]) == 0  # the kiosk's offline bundle
    result = _verify(capsys, demo, "business-licence-nanjing")
    assert result["status"] == "INVALID" and result["reasons"][0]["code"] == "licence_revoked"
    (demo / "trust-bundle.cose").write_bytes(old_bundle)  # a kiosk that has not updated yet
    assert _verify(capsys, demo, "business-licence-nanjing")["status"] == "VALID"
    # ... until its status list goes stale (7 days): then INDETERMINATE, never VALID
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=8)).isoformat()
    capsys.readouterr()
    assert run(["verify", str(demo / "licences" / "business-licence-nanjing.qr.txt"), "--trust",
                str(demo / "trust-bundle.cose"), "--json", "--at", later]) == 2  # fmt: skip
    assert "status_stale" in {r["code"] for r in json.loads(capsys.readouterr().out)["reasons"]}


def test_supersede_and_errors(world, demo, capsys):  # type: ignore[no-untyped-def]
    home = ["--home", str(demo)]
    old = str(world.issued["driving-licence-nanjing"].licence.id)
    renewed = str(world.issued["driving-licence-renewed"].licence.id)
    assert run(["supersede", old, "--with", renewed, *home]) == 3  # renewed names another predecessor
    assert "does not name" in capsys.readouterr().err
    assert run(["revoke", "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U", *home]) == 3
    assert "no licence" in capsys.readouterr().err
    assert run(["revoke", old, "--reason", "suspended", *home]) == 3
    assert run(["revoke", old, "--reason", "bogus", *home]) == 3
    assert run(["revoke", "not-an-id", *home]) == 3
    assert run(["revoke", old, "--home", str(demo / "nope")]) == 3
    assert run(["revoke", old, *home, "--effective", "2999-01-01"]) == 3
    capsys.readouterr()


def test_revoke_certificate_cli(world, demo, capsys):  # type: ignore[no-untyped-def]
    home = ["--home", str(demo)]
    code = world.issued["business-licence-jinan"].licence.issuer.code
    assert run(["status", "revoke-cert", *home, "--authority", code, "--invalid-since", "2020-01-01"]) == 0
    assert run(["status", "revoke-cert", *home, "--authority", code]) == 3
    assert run(["bundle", *home, "-o", str(demo / "trust-bundle.cose")]) == 0
    result = _verify(capsys, demo, "business-licence-jinan")
    assert result["status"] == "INVALID"
    assert {r["code"] for r in result["reasons"]} >= {"signing_key_revoked"}


def _issue_cli(capsys, demo, source: str, *extra: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    fields = [f"source_id={source}", "holder_name=济南单证科技有限公司", "holder_code=91370102MA3C8K2L65",
              "entity_type=有限责任公司", "法定代表人=李珺", "establishment_date=2020-01-02", "domicile=济南",
              "business_scope=软件开发", "serial=SUP77", *extra]  # fmt: skip
    args = ["issue", "--type", "business-licence", "--home", str(demo), "--json", "--no-progress"]
    for f in fields:
        args += ["--field", f]
    capsys.readouterr()
    assert run(args) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _verify_text(capsys, demo, payload: str, lang: str = "en") -> dict:  # type: ignore[no-untyped-def,type-arg]
    path = demo / "one.qr.txt"
    path.write_text(payload + "\n", "ascii")
    capsys.readouterr()
    run(["verify", str(path), "--trust", str(demo / "trust-bundle.cose"), "--json", "--lang", lang])
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_supersede_end_to_end_names_successor_and_predecessor(demo, capsys):  # type: ignore[no-untyped-def]
    """issue v1 → issue v2 (supersedes=v1) → supersede → bundle: the old licence names its successor, the new one
    its predecessor (`licence.predecessor`, alias of `supersedes`)."""
    old = _issue_cli(capsys, demo, "SUP-1", "version=1")
    new = _issue_cli(capsys, demo, "SUP-2", "version=2", f"supersedes={old['id']}")
    home = ["--home", str(demo)]
    assert run(["supersede", old["id"], "--with", new["id"], *home, "--json"]) == 0
    event = json.loads(capsys.readouterr().out)
    assert event["to"] == "superseded" and event["successor"] == new["id"]
    assert run(["bundle", *home, "-o", str(demo / "trust-bundle.cose")]) == 0
    for lang in ("en", "zh"):
        result = _verify_text(capsys, demo, old["qr_payload"], lang)
        assert result["status"] == "INVALID"
        (reason,) = result["reasons"]
        assert reason["code"] == "licence_superseded" and new["id"] in reason["message"], reason
        assert result["licence"]["predecessor"] is None and result["licence"]["supersedes"] is None
    renewed = _verify_text(capsys, demo, new["qr_payload"])
    assert renewed["status"] == "VALID", renewed["reasons"]
    assert renewed["licence"]["predecessor"] == renewed["licence"]["supersedes"] == old["id"]


def test_status_at_a_time_through_the_cli(world, demo, capsys):  # type: ignore[no-untyped-def]
    """A suspension back-dated 2 h: `status show --at` and `verify --at` before it say valid, now suspended."""
    lid = str(world.issued["business-licence-nanjing"].licence.id)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    since, before = now - dt.timedelta(hours=2), (now - dt.timedelta(hours=3)).isoformat()
    home = ["--home", str(demo)]
    assert run(["suspend", lid, *home, "--effective", since.isoformat()]) == 0
    capsys.readouterr()
    assert run(["status", "show", lid, *home, "--at", before, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "valid"
    assert run(["status", "show", lid, *home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "suspended"
    assert run(["bundle", *home, "-o", str(demo / "trust-bundle.cose")]) == 0
    qr = str(demo / "licences" / "business-licence-nanjing.qr.txt")
    capsys.readouterr()
    assert run(["verify", qr, "--trust", str(demo / "trust-bundle.cose"), "--json", "--at", before]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "VALID"
    assert run(["verify", qr, "--trust", str(demo / "trust-bundle.cose"), "--json"]) == 1
    (reason,) = json.loads(capsys.readouterr().out)["reasons"]
    assert reason["code"] == "licence_suspended" and since.isoformat().replace("+00:00", "Z") in reason["message"]
