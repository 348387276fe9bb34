"""Attacks by a rogue region on another region's identity (#16 item 1).

A region's list is authentic (signed by the operator the national list pins), but it names an
authority that carries another region's authority code, or re-lists another region's certificate,
or a certificate issued by another region's CA. Every such bundle is refused when published
(``elicense bundle``), installed (``elicense trust update``) and loaded (``Verifier.from_bundle`` /
``from_trust_file``, ``elicense verify``, ``elicense kiosk``), with one line naming both regions.
Behind that, a status list answers only for licences signed by the key of the entry that signed it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from elicense.cli import run
from elicense.identifiers import USCC
from elicense.issue import LicenceBuilder, sign_licence
from elicense.model import Authority
from elicense.status.reasons import ListState
from elicense.status.section import to_section
from elicense.status.statuslist import Entry, sign_status_list
from elicense.status.store import StatusStore
from elicense.trust.bundle import STATUS_SECTION
from elicense.trust.common import TrustListConflict
from elicense.trust.file import dump_trust_file
from elicense.trust.lists import AuthorityRecord
from elicense.trust.store import TrustedAuthority, TrustStore
from elicense.trust_state import TrustedState
from elicense.verify import Status, Verifier
from trust_world import CATALOG, NOW, World, issue, make_world

JINAN = "business-licence-jinan"
INDEX = 7  # the status index trust_world.issue gives every licence


@pytest.fixture
def tw() -> World:
    return make_world()


def _rogue_jinan(tw: World) -> AuthorityRecord:
    """江苏's list names an authority with 济南's code and name, with a key of its own (area in 江苏)."""
    _, _, uscc, _, types = tw.authorities["jinan-approval"]
    return tw.add_authority("rogue-jinan", "320000", name="济南市行政审批服务局", uscc=uscc, area="320100", types=types)


def _status(tw: World, lists: list[bytes]) -> dict[str, bytes]:
    return {STATUS_SECTION: json.dumps(to_section(lists, tw.crls())).encode()}


def _jinan_lists(tw: World) -> tuple[bytes, bytes]:
    """济南's genuine list revoking its licence, and the rogue key's newer all-valid list for 济南's code."""
    uscc = tw.authorities["jinan-approval"][2]
    genuine = sign_status_list(
        tw.signer("jinan-approval"),
        issuer=uscc,
        sequence=1,
        issued_at=NOW - dt.timedelta(days=1),
        entries=[Entry(INDEX, ListState.REVOKED)],
    )
    rogue = sign_status_list(
        tw.signer("rogue-jinan"), issuer=uscc, sequence=2, issued_at=NOW - dt.timedelta(hours=1), entries=[]
    )
    return genuine, rogue


def _names_both(text: str, a: str = "370000", b: str = "320000") -> bool:
    return a in text and b in text and text.strip().count("\n") == 0


def _refused_everywhere(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: str, **lists: object
) -> None:
    """Published, installed, loaded (API, verify CLI, kiosk CLI): each refuses, naming both regions."""
    with pytest.raises(TrustListConflict) as built:
        tw.bundle(**lists)  # type: ignore[arg-type]
    assert _names_both(built.value.message)
    evil = tmp_path / "evil.cose"
    evil.write_bytes(tw.unchecked_bundle(sequence=2, **lists))  # type: ignore[arg-type]
    for load in (Verifier.from_bundle, Verifier.from_trust_file):
        with pytest.raises(TrustListConflict) as loaded:
            load(evil)
        assert _names_both(loaded.value.message)
    qr = tmp_path / "x.qr.txt"
    qr.write_text(payload)
    capsys.readouterr()
    assert run(["verify", str(qr), "--trust", str(evil), "--region", "370000", "--at", NOW.isoformat()]) == 3
    assert _names_both(capsys.readouterr().err)
    assert run(["kiosk", "--trust", str(evil), "--port", "0", "--state", str(tmp_path / "kiosk-state")]) == 3
    assert _names_both(capsys.readouterr().err)
    current = tmp_path / "current.cose"
    current.write_bytes(tw.bundle(sequence=1))
    before = current.read_bytes()
    with pytest.raises(TrustListConflict):
        TrustedState.update_file(current, evil)
    assert run(["trust", "update", str(current), str(evil)]) == 3
    assert _names_both(capsys.readouterr().err)
    assert current.read_bytes() == before


def test_attack_rogue_region_reuses_authority_code_to_revive_revoked_licence(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """江苏 lists 济南's authority code with its own key and publishes an all-valid status list for it:
    济南's revoked licence must never be VALID again."""
    payload = issue(tw, JINAN)
    rogue = _rogue_jinan(tw)
    genuine, forged = _jinan_lists(tw)
    # the target: with 济南's own list only, the licence is revoked
    honest = tmp_path / "honest.cose"
    honest.write_bytes(tw.bundle(extras=_status(tw, [genuine])))
    result = Verifier.from_bundle(honest).verify(payload, at=NOW)
    assert result.status is Status.INVALID and result.has_reason("licence_revoked")
    _refused_everywhere(
        tw,
        tmp_path,
        capsys,
        payload,
        extras=_status(tw, [genuine, forged]),
        region_authorities={"320000": [*tw.records("320000"), rogue]},
    )


def test_attack_status_list_of_a_rogue_key_never_answers_for_another_entry(tw: World) -> None:
    """Behind the refusal: even in trust data that lets two entries share a code, a status list is bound to
    the key (entry) that signed it, never to the code it names."""
    payload = issue(tw, JINAN)
    _rogue_jinan(tw)
    genuine, forged = _jinan_lists(tw)
    entries = []
    for slug, (_, cert, uscc, area, types) in tw.authorities.items():
        entries.append((TrustedAuthority(slug, uscc, area, frozenset(types)), [cert]))
    trust = TrustStore.build(
        roots=[tw.root],
        intermediates=[c for _, c in tw.ca.values()],
        authorities=entries,
        unsafe_allow_shared_identities=True,
    )
    with pytest.raises(TrustListConflict):
        TrustStore.build(roots=[tw.root], intermediates=[c for _, c in tw.ca.values()], authorities=entries)
    for order in ([genuine, forged], [forged, genuine]):
        status = StatusStore.build(trust, status_lists=order, crls=tw.crls())
        result = Verifier(trust=trust, status=status).verify(payload, at=NOW)
        assert result.status is Status.INVALID and result.has_reason("licence_revoked"), result.reasons
        assert result.issuer is not None and result.issuer.area_code == "370100"


def test_attack_rogue_key_signs_licence_with_genuine_jinan_licence_id(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With 济南's code in its list, 江苏's key signs a licence with the exact id of a genuine 济南 licence and
    another holder: never VALID for a 370000 relying party (the bundle is refused)."""
    from elicense.demo import SAMPLES
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap

    rogue = _rogue_jinan(tw)
    genuine = issue(tw, JINAN)
    s = next(x for x in SAMPLES if x.name == JINAN)
    day = (NOW - dt.timedelta(days=10)).date()
    licence = (
        LicenceBuilder()
        .licence_type(s.type_slug, CATALOG)
        .serial(s.serial)
        .holder(replace(s.holder, name="冒名商贸有限公司"))
        .issuer(Authority(rogue.name, rogue.uscc, rogue.area_code))
        .issued_on(day)
        .validity(day, None)
        .fields(s.fields)
        .status_index(INDEX)
        .build()
    )
    forged = sign_licence(licence, tw.signer("rogue-jinan"), at=NOW - dt.timedelta(days=10), catalog=CATALOG).qr_payload
    same_id = [parse_sign1(unwrap(p)).payload for p in (genuine, forged)]
    assert same_id[0] != same_id[1]
    _refused_everywhere(tw, tmp_path, capsys, forged, region_authorities={"320000": [*tw.records("320000"), rogue]})


def test_attack_region_relists_another_regions_certificate(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """山东's list re-lists 南京's certificate under an authority of its own: it must not take over the
    attribution of 南京's genuine licences (the bundle is refused)."""
    _, cert, _, _, types = tw.authorities["nanjing-market"]
    usurper = AuthorityRecord(
        "山东省冒名机构",
        str(USCC.build("11", "370100", "MB777777")),
        "370100",
        (cert,),
        types,
        tw.records("320000")[0].history,
    )
    _refused_everywhere(
        tw,
        tmp_path,
        capsys,
        issue(tw, "business-licence-nanjing"),
        region_authorities={"370000": [*tw.records("370000"), usurper]},
    )


def test_attack_region_lists_certificate_issued_by_another_regions_ca(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """江苏 lists an authority whose certificate 山东's CA issued (and 山东 does not list): an authority of
    region R must chain through R's own CA."""
    _, _, _, _, types = tw.authorities["nanjing-market"]
    stray = tw.add_authority(
        "stray",
        "370000",
        name="南京市某局",
        uscc=str(USCC.build("11", "320100", "MB777777")),
        area="320100",
        types=types,
    )
    _refused_everywhere(
        tw,
        tmp_path,
        capsys,
        issue(tw, "business-licence-nanjing"),
        region_authorities={"320000": [*tw.records("320000"), stray]},
    )


def test_attack_trust_file_repeats_another_regions_authority_code(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON trust file: an entry in 江苏 with 济南's code is refused at load (API, verify, kiosk)."""
    rogue = _rogue_jinan(tw)
    entries = [
        (TrustedAuthority(a.name, a.uscc, a.area_code, frozenset(a.licence_types)), list(a.certificates))
        for region in ("370000", "320000")
        for a in tw.records(region)
    ]
    entries.append(
        (
            TrustedAuthority(rogue.name, rogue.uscc, rogue.area_code, frozenset(rogue.licence_types)),
            list(rogue.certificates),
        )
    )
    path = tmp_path / "trust.json"
    path.write_bytes(
        dump_trust_file(
            roots=[tw.root],
            intermediates=[c for _, c in tw.ca.values()],
            authorities=entries,
            issued_at=NOW,
            next_update=NOW + dt.timedelta(days=30),
        )
    )
    with pytest.raises(TrustListConflict) as exc:
        Verifier.from_trust_file(path)
    assert _names_both(exc.value.message)
    capsys.readouterr()
    assert run(["kiosk", "--trust", str(path), "--port", "0", "--state", str(tmp_path / "s")]) == 3
    assert _names_both(capsys.readouterr().err)


def test_attack_bundle_command_refuses_home_repeating_another_regions_code(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``elicense bundle`` never publishes a home whose 江苏 authority carries 济南's code."""
    home = tmp_path / "home"
    shutil.copytree(world.home.path, home)
    doc = json.loads((home / "home.json").read_text())
    jinan = next(a for a in doc["authorities"] if a["area_code"] == "370100")
    nanjing = next(a for a in doc["authorities"] if a["area_code"] == "320100")
    doc["authorities"].append({**nanjing, "code": jinan["code"], "name": jinan["name"]})
    (home / "home.json").write_text(json.dumps(doc, ensure_ascii=False))
    capsys.readouterr()
    assert run(["bundle", "--home", str(home), "-o", str(tmp_path / "b.cose"), "--at", NOW.isoformat()]) == 3
    assert _names_both(capsys.readouterr().err)
    assert not (tmp_path / "b.cose").exists()


@pytest.mark.parametrize("numbers", [(5, 1), (1, 5)])
def test_attack_crl_of_a_same_named_ca_never_displaces_the_genuine_crl(tw: World, numbers: tuple[int, int]) -> None:
    """CRLs are bound to their CA by name AND key: a CA with the same name (a re-keyed CA, or one made to
    look like another region's) must not replace the genuine CA's CRL, nor apply to its certificates."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from elicense.crypto.pki import make_end_entity, make_regional_ca
    from elicense.demo import _key
    from elicense.status.crl import RevokedCert, build_crl
    from trust_world import SEED, START

    ca_key, ca = tw.ca["370000"]
    twin_key = _key(SEED, "ca-370000-twin")
    twin = make_regional_ca(
        twin_key,
        "山东省CA",
        province="山东省",
        issuer_cert=tw.root,
        issuer_key=tw.root_key,
        not_before=START,
        not_after=NOW + dt.timedelta(days=3650),
    )
    assert twin.subject == ca.subject
    k2 = _key(SEED, "auth-twin")
    code2 = str(USCC.build("11", "370100", "MB888888"))
    cert2 = make_end_entity(
        k2.public_key(),
        "济南市第二局",
        uscc=code2,
        province="山东省",
        issuer_cert=twin,
        issuer_key=twin_key,
        not_before=START,
        not_after=NOW + dt.timedelta(days=365),
    )
    _, jinan_cert, jinan_code, _, types = tw.authorities["jinan-approval"]
    entries = [
        (TrustedAuthority("济南市行政审批服务局", jinan_code, "370100", frozenset(types)), [jinan_cert]),
        (TrustedAuthority("济南市第二局", code2, "370100", frozenset(types)), [cert2]),
    ]
    trust = TrustStore.build(roots=[tw.root], intermediates=[ca, twin], authorities=entries)
    last, nxt = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=7)
    crls = [
        build_crl(tw.root, tw.root_key, [], number=1, last_update=last, next_update=nxt),
        build_crl(ca, ca_key, [], number=numbers[0], last_update=last, next_update=nxt),
        # the twin "revokes" 济南's serial: its CRL must not speak for 济南's real CA
        build_crl(
            twin,
            twin_key,
            [RevokedCert(jinan_cert.serial_number, NOW - dt.timedelta(days=30), "key_compromise")],
            number=numbers[1],
            last_update=last,
            next_update=nxt,
        ),
    ]
    store = StatusStore.build(trust, crls=[c.public_bytes(Encoding.DER) for c in crls])
    for keys in trust.keys.values():
        for key in keys:
            assert store.check_chain(key, NOW - dt.timedelta(days=10), NOW) == (), key.authority.name


def test_trust_show_and_export_refuse_a_conflicting_bundle(
    tw: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``trust show`` / ``export`` / ``pin`` load like a verifier: a certificate from another region's CA is refused."""
    _, _, _, _, types = tw.authorities["nanjing-market"]
    stray = tw.add_authority(
        "stray-show",
        "370000",
        name="南京市某局",
        uscc=str(USCC.build("11", "320100", "MB666666")),
        area="320100",
        types=types,
    )
    evil = tmp_path / "evil.cose"
    evil.write_bytes(tw.unchecked_bundle(region_authorities={"320000": [*tw.records("320000"), stray]}))
    capsys.readouterr()
    for args in (
        ["trust", "show", str(evil)],
        ["trust", "export", str(evil), str(tmp_path / "out")],
        ["trust", "pin", str(evil), "--state", str(tmp_path / "state")],
    ):
        assert run(args) == 3
        assert _names_both(capsys.readouterr().err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()
