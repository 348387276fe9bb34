"""The verifier with status data: demo samples, bundles before/after a revocation,
stale and missing data, revoked signing keys and CAs (CRLs), end to end through the registry."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from elicense.home import Home
from elicense.issue import LicenceBuilder, sign_licence
from elicense.services.status import change_status, licence_state, open_registry, revoke_certificate, status_sections
from elicense.status.crl import RevokedCert, build_crl, index_crl
from elicense.status.lifecycle import Action, IllegalTransition, UnknownLicence
from elicense.status.store import StatusStore
from elicense.verify import Verifier
from elicense.verify.result import Status
from reference_forms import build_crl_quadratic

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_demo_samples_show_each_state(world, verifier):  # type: ignore[no-untyped-def]
    expect = {
        "business-licence-revoked": "licence_revoked",
        "food-business-licence-suspended": "licence_suspended",
        "driving-licence-superseded": "licence_superseded",
        "food-business-licence-expired": "licence_expired",
    }
    for name, issued in world.issued.items():
        result = verifier.verify(issued.qr_payload, at=NOW)
        if name in expect:
            assert result.status is Status.INVALID, name
            assert [r.code for r in result.reasons] == [expect[name]], (name, result.reasons)
        else:
            assert result.status is Status.VALID, (name, result.reasons)
            names = [c.name for c in result.checks]
            assert "licence_status" in names and "certificate_revocation" in names
    successor = world.issued["driving-licence-renewed"].licence
    result = verifier.verify(world.issued["driving-licence-superseded"].qr_payload, at=NOW)
    assert str(successor.id) in result.reasons[0].detail
    renewed = verifier.verify(world.issued["driving-licence-renewed"].qr_payload, at=NOW)
    assert str(renewed.licence.supersedes) == str(world.issued["driving-licence-superseded"].licence.id)
    lic = renewed.to_dict()["licence"]
    assert lic["predecessor"] == lic["supersedes"] == str(world.issued["driving-licence-superseded"].licence.id)
    assert result.to_dict()["licence"]["predecessor"] is None
    assert str(successor.id) in result.to_dict("en")["reasons"][0]["message"]
    assert str(successor.id) in result.to_dict("zh")["reasons"][0]["message"]
    zh = result.to_dict("zh")["reasons"][0]["message"]
    assert "换发" in zh


def test_stale_status_is_indeterminate_never_valid(world, verifier):  # type: ignore[no-untyped-def]
    payload = world.issued["business-licence-jinan"].qr_payload
    result = verifier.verify(payload, at=NOW + 8 * DAY)
    assert result.status is Status.INDETERMINATE
    assert {"status_stale", "revocation_stale"} <= {r.code for r in result.reasons}


def test_missing_list_is_indeterminate(world):  # type: ignore[no-untyped-def]
    trust = world.home.trust_store()
    sections = status_sections(world.home, NOW)
    jinan = world.issued["business-licence-jinan"].licence.issuer.code
    others = [x for x in sections.status_lists if jinan.encode() not in x]
    assert len(others) == len(sections.status_lists) - 1
    v = Verifier(trust=trust, status=StatusStore.build(trust, status_lists=others, crls=sections.crls))
    result = v.verify(world.issued["business-licence-jinan"].qr_payload, at=NOW)
    assert result.status is Status.INDETERMINATE and result.reasons[0].code == "status_unknown"
    no_crl = Verifier(trust=trust, status=StatusStore.build(trust, status_lists=sections.status_lists))
    result = no_crl.verify(world.issued["business-licence-nanjing"].qr_payload, at=NOW)
    assert result.status is Status.INDETERMINATE and result.reasons[0].code == "revocation_unknown"


@pytest.fixture
def home(world, tmp_path):  # type: ignore[no-untyped-def]
    """A private copy of the demo home (registry included) to change status in."""
    shutil.copytree(world.home.path, tmp_path / "home")
    return Home.load(tmp_path / "home")


def _verifier(home: Home, sections) -> Verifier:  # type: ignore[no-untyped-def]
    trust = home.trust_store()
    return Verifier(trust=trust, status=StatusStore.build(trust, status_lists=sections.status_lists,
                                                          crls=sections.crls))  # fmt: skip


def test_bundle_before_revocation_stays_valid_until_stale(world, home):  # type: ignore[no-untyped-def]
    issued = world.issued["business-licence-jinan"]
    lid = str(issued.licence.id)
    before = status_sections(home, NOW)
    with open_registry(home) as reg:
        event = change_status(reg, lid, Action.REVOKE, at=NOW + DAY, actor="t", reason="cancelled", note="n")
        assert event.reason == "cancelled"
        state = licence_state(reg, lid)
        assert state.status.value == "revoked" and state.history[-1].note == "n"
        assert state.status_at(NOW).status.value == "valid"
        audit = reg.verify_audit()
        assert audit.ok if hasattr(audit, "ok") else True
    after = status_sections(home, NOW + DAY + dt.timedelta(seconds=1))
    old, new = _verifier(home, before), _verifier(home, after)
    assert old.verify(issued.qr_payload, at=NOW + 2 * DAY).status is Status.VALID  # old data: not yet seen
    assert old.verify(issued.qr_payload, at=NOW + 8 * DAY).status is Status.INDETERMINATE  # old data gone stale
    result = new.verify(issued.qr_payload, at=NOW + 2 * DAY)
    assert result.status is Status.INVALID and result.reasons[0].code == "licence_cancelled"
    assert new.verify(issued.qr_payload, at=NOW + dt.timedelta(hours=12)).status is Status.VALID  # before effect
    # a rolled-back view: the verifier remembers the sequence it has seen
    trust = home.trust_store()
    seen = StatusStore.build(trust, status_lists=after.status_lists, crls=after.crls).sequences()
    rolled = StatusStore.build(trust, status_lists=before.status_lists, crls=before.crls, known_sequences=seen)
    result = Verifier(trust=trust, status=rolled).verify(issued.qr_payload, at=NOW + 2 * DAY)
    assert result.status is Status.INDETERMINATE and result.reasons[0].code == "status_list_rolled_back"


def test_registry_transitions_and_errors(world, home):  # type: ignore[no-untyped-def]
    lid = str(world.issued["food-business-licence-jinan"].licence.id)
    with open_registry(home) as reg:
        change_status(reg, lid, Action.SUSPEND, at=NOW, actor="t")
        with pytest.raises(IllegalTransition):
            change_status(reg, lid, Action.SUSPEND, at=NOW, actor="t")
        change_status(reg, lid, Action.REINSTATE, at=NOW + DAY, actor="t")
        change_status(reg, lid, Action.REVOKE, at=NOW + 2 * DAY, actor="t", reason="revoked")
        with pytest.raises(IllegalTransition, match="revoked"):
            change_status(reg, lid, Action.REINSTATE, at=NOW + 3 * DAY, actor="t")
        unknown = lid.rsplit(".", 3)[0] + ".999999.001.0"
        with pytest.raises(Exception) as info:
            change_status(reg, unknown, Action.REVOKE, at=NOW, actor="t")
        assert info.value.code in ("identifier", "unknown_licence")
        # supersede needs a successor that names the old licence
        other = str(world.issued["business-licence-jinan"].licence.id)
        with pytest.raises(Exception, match="does not name"):
            change_status(reg, other, Action.SUPERSEDE, at=NOW, actor="t",
                          successor=str(world.issued["driving-licence-renewed"].licence.id))  # fmt: skip
        states = [e.to_status.value for e in licence_state(reg, lid).history]
    assert states == ["valid", "suspended", "valid", "revoked"]


def test_unknown_licence(home):  # type: ignore[no-untyped-def]
    with open_registry(home) as reg, pytest.raises(UnknownLicence):
        change_status(reg, "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
                      Action.REVOKE, at=NOW, actor="t")  # fmt: skip


def _issue_unindexed(home: Home, world, at: dt.datetime, serial: str, sample: str = "business-licence-jinan"):  # type: ignore[no-untyped-def]
    base = world.issued[sample].licence
    entry = home.authority(base.issuer.code)
    lic = (LicenceBuilder().licence_type(base.type_code).serial(serial).holder(base.holder).issuer(entry.authority)
           .issued_on(at.date()).validity(at.date(), None).fields(dict(base.fields)).build())  # fmt: skip
    return sign_licence(lic, home.signer(entry), at=at)


def _chain_ok_but_unindexed(result) -> None:  # type: ignore[no-untyped-def]
    """The signer chain passes; without a status index the licence's own status cannot be known (#16)."""
    checks = {c.name: c.outcome.value for c in result.checks}
    assert checks["certificate_revocation"] == "PASSED" and checks["licence_status"] == "SKIPPED", checks
    assert result.status is Status.INDETERMINATE and [r.code for r in result.reasons] == ["status_index_missing"]


def test_revoked_signing_key_before_and_after(world, home):  # type: ignore[no-untyped-def]
    early = _issue_unindexed(home, world, NOW - 150 * DAY, "EARLY1")
    late = _issue_unindexed(home, world, NOW - 50 * DAY, "LATE1")
    entry = home.authority_for_type(early.licence.type_code)
    cert = home.certificates(entry.cert)[0]
    revoke_certificate(home, cert, at=NOW - DAY, reason="key_compromise", invalid_since=NOW - 100 * DAY)
    sections = status_sections(home, NOW)
    v = _verifier(home, sections)
    _chain_ok_but_unindexed(v.verify(early.qr_payload, at=NOW))  # signed before the compromise
    result = v.verify(late.qr_payload, at=NOW)
    assert result.status is Status.INVALID and result.reasons[0].code == "signing_key_revoked"
    # the compromised key can no longer vouch for its authority's status list
    assert v.status.lists.get(entry.code) is None and any("revoked" in p for p in v.status.problems)
    indexed = world.issued["business-licence-jinan"]
    assert v.verify(indexed.qr_payload, at=NOW).status is Status.INDETERMINATE
    with pytest.raises(Exception, match="already revoked"):
        revoke_certificate(home, cert, at=NOW)


def test_revoked_regional_ca_invalidates_later_signatures(world, home):  # type: ignore[no-untyped-def]
    region = next(r for r in home.regions if r.code == "320000")
    ca = home.certificates(region.ca_cert)[0]
    revoke_certificate(home, ca, at=NOW - 10 * DAY, reason="cessation_of_operation")
    v = _verifier(home, status_sections(home, NOW))
    early = _issue_unindexed(home, world, NOW - 100 * DAY, "EARLYCA", sample="business-licence-nanjing")
    late = _issue_unindexed(home, world, NOW - DAY, "AFTERCA", sample="business-licence-nanjing")
    _chain_ok_but_unindexed(v.verify(early.qr_payload, at=NOW))
    result = v.verify(late.qr_payload, at=NOW)
    assert result.status is Status.INVALID and result.reasons[0].code == "signing_key_revoked"
    # status lists signed under the revoked CA are refused: indexed licences cannot be confirmed
    indexed = v.verify(world.issued["business-licence-nanjing"].qr_payload, at=NOW)
    assert [r.code for r in indexed.reasons] == ["status_unknown"]


def test_forged_crl_is_refused(world, home):  # type: ignore[no-untyped-def]
    from elicense.crypto.keys import decrypt_private_key

    region = next(r for r in home.regions if r.code == "320000")
    ca = home.certificates(region.ca_cert)[0]
    wrong_key = decrypt_private_key((home.path / "keys/ca-370000.key.pem").read_bytes(), home.passphrase())
    forged = build_crl(ca, wrong_key, [], last_update=NOW, number=1)
    trust = home.trust_store()
    store = StatusStore.build(trust, crls=[forged, b"garbage"])
    assert len(store.problems) == 2 and store.crls == ()


def test_crl_builders_agree():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric import ec

    from elicense.crypto.pki import make_root

    key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(key, "t", not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    revoked = [RevokedCert(1000 + i, NOW - i * DAY, "key_compromise" if i % 2 else "unspecified",
                           NOW - (i + 1) * DAY if i % 3 == 0 else None) for i in range(50)]  # fmt: skip
    fast = build_crl(root, key, revoked, last_update=NOW, next_update=NOW + 7 * DAY, number=3)
    slow = build_crl_quadratic(root, key, revoked, last_update=NOW, next_update=NOW + 7 * DAY)
    assert {r.serial_number for r in fast} == {r.serial_number for r in slow}
    ic = index_crl(fast, [root])
    assert ic.number == 3 and ic.lookup(1001).reason == "key_compromise" and ic.lookup(999) is None
    assert ic.lookup(1003).invalid_since == NOW - 4 * DAY and ic.lookup(1003).effective == NOW - 4 * DAY
