"""Issue 18 item 3: an all-SM2 world has the status section the ECDSA world has.

SM2-signed status lists (COSE alg -65537) and SM2-signed X.509 CRLs travel in the SM2 bundle's
status section and are checked by the Verifier exactly as in the ES256 world: a licence revoked
in the registry is INVALID at a kiosk after the next bundle, stale or missing status is
INDETERMINATE, a tampered list is refused. The CRL signatures are cross-checked with gmalglib
and gmalg (SM2 implementations elicense did not write).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

from cryptography import x509

from elicense.cli import run
from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.status.crl import OID_SM2_WITH_SM3

SM2_ONLY = AlgorithmPolicy.of(["SM2"])
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def sm2s(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The seeded SM2 demo world at a fixed time (library tests)."""
    from elicense.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("sm2status"), now=NOW, seed=b"sm2-status", images=False,
                      algorithm=Algorithm.SM2)  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An SM2 demo world at the real current time: the CLI's revoke and bundle read the clock."""
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("sm2live"), now=now, seed=b"sm2-live", images=False,
                      algorithm=Algorithm.SM2)  # fmt: skip


def _section(world: Any) -> tuple[Any, Any, dict[str, Any]]:
    from elicense.trust.bundle import STATUS_SECTION, read_bundle_file

    bundle = read_bundle_file(world.trust_file, algorithms=SM2_ONLY)
    raw = bundle.section(STATUS_SECTION)
    assert raw is not None
    return bundle, bundle.trust_store(), json.loads(raw)


def _items(section: dict[str, Any], key: str) -> list[bytes]:
    return [base64.b64decode(x) for x in section[key]]


def _verifier(trust: Any, status: Any) -> Any:
    from elicense.verify import Verifier

    return Verifier(trust=trust, status=status, algorithms=SM2_ONLY)


# -- the section is SM2 all the way -------------------------------------------------------------


def test_sm2_bundle_carries_sm2_status_lists_and_crls(sm2s: Any) -> None:
    from elicense.status.statuslist import parse_status_list
    from elicense.status.store import StatusStore

    _, trust, section = _section(sm2s)
    lists, crls = _items(section, "status_lists"), _items(section, "crls")
    assert len(lists) == len(sm2s.home.authorities) and len(crls) == 3  # root + two regional CAs
    assert {parse_status_list(x).message.alg_id for x in lists} == {Algorithm.SM2.cose_id}
    assert {x509.load_der_x509_crl(c).signature_algorithm_oid.dotted_string for c in crls} == {OID_SM2_WITH_SM3}
    store = StatusStore.build(trust, status_lists=lists, crls=crls)
    assert store.problems == ()
    assert set(store.lists) == {a.code for a in sm2s.home.authorities}
    assert all(not f.missing for f in store.chains.values())  # every chain covered by an SM2 CRL


def test_sm2_status_samples_verdicts(sm2s: Any) -> None:
    from elicense.verify import Status, Verifier

    v = Verifier.from_bundle(sm2s.trust_file, algorithms=SM2_ONLY)
    expected = {
        "business-licence-revoked": "licence_revoked",
        "food-business-licence-suspended": "licence_suspended",
        "driving-licence-superseded": "licence_superseded",
    }
    for name, code in expected.items():
        res = v.verify(sm2s.issued[name].qr_payload, at=NOW)
        assert res.status is Status.INVALID and [r.code for r in res.reasons] == [code], name
    for name in ("driving-licence-renewed", "business-licence-jinan", "real-estate-title-nanjing"):
        assert v.verify(sm2s.issued[name].qr_payload, at=NOW).status is Status.VALID, name
    # every status sample is sealed too (GB/T 38540 SES_Signature beside it)
    assert (sm2s.home.path / "licences" / "business-licence-revoked.qr.txt.ses").exists()


def test_sm2_stale_status_is_indeterminate(sm2s: Any) -> None:
    from elicense.verify import Status, Verifier

    v = Verifier.from_bundle(sm2s.trust_file, algorithms=SM2_ONLY)
    res = v.verify(sm2s.issued["business-licence-jinan"].qr_payload, at=NOW + dt.timedelta(days=8))
    assert res.status is Status.INDETERMINATE
    codes = {r.code for r in res.reasons}
    assert "status_stale" in codes and "revocation_stale" in codes


def test_sm2_missing_status_is_indeterminate(sm2s: Any) -> None:
    from elicense.status.store import StatusStore
    from elicense.verify import Status

    _, trust, section = _section(sm2s)
    payload = sm2s.issued["business-licence-jinan"].qr_payload
    no_lists = StatusStore.build(trust, crls=_items(section, "crls"))
    res = _verifier(trust, no_lists).verify(payload, at=NOW)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["status_unknown"]
    no_crls = StatusStore.build(trust, status_lists=_items(section, "status_lists"))
    res = _verifier(trust, no_crls).verify(payload, at=NOW)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["revocation_unknown"]


@pytest.mark.parametrize("where", ["signature", "payload"])
def test_tampered_sm2_status_list_is_refused(sm2s: Any, where: str) -> None:
    """One bit flipped in an SM2 list (its signature, or the signed content): refused; no status → INDETERMINATE."""
    from elicense.status.statuslist import parse_status_list
    from elicense.status.store import StatusStore
    from elicense.verify import Status

    _, trust, section = _section(sm2s)
    lists = _items(section, "status_lists")
    code = sm2s.issued["business-licence-revoked"].licence.issuer.code
    (target,) = [i for i, x in enumerate(lists) if parse_status_list(x).content.issuer == code]
    raw = bytearray(lists[target])
    msg = parse_status_list(bytes(raw)).message
    blob = msg.signature if where == "signature" else msg.payload[-40:]  # inside the detail map / gzip
    at = bytes(raw).rindex(blob) + len(blob) // 2
    raw[at] ^= 0x01
    lists[target] = bytes(raw)
    store = StatusStore.build(trust, status_lists=lists, crls=_items(section, "crls"))
    assert code not in store.lists and store.problems
    res = _verifier(trust, store).verify(sm2s.issued["business-licence-revoked"].qr_payload, at=NOW)
    assert res.status is Status.INDETERMINATE  # never VALID: the revocation cannot be hidden


# -- SM2 CRLs ------------------------------------------------------------------------------------


def _crls(world: Any) -> list[bytes]:
    return _items(_section(world)[2], "crls")


def test_sm2_crl_signature_verified_by_gmalglib_and_gmalg(sm2s: Any) -> None:
    """Independent SM2 implementations verify each CRL's signature over its TBSCertList (default user id)."""
    gmalglib = pytest.importorskip("gmalglib")
    gmalg = pytest.importorskip("gmalg")
    from asn1crypto import crl as acrl

    from elicense.crypto import sm2

    cas = {c.subject: c for c in [*sm2s.home.root_certificates(), *sm2s.home.intermediate_certificates()]}
    for der in _crls(sm2s):
        parsed = acrl.CertificateList.load(der)
        tbs = parsed["tbs_cert_list"].dump()
        raw = sm2.der_to_raw(parsed["signature"].native)
        issuer = cas[x509.load_der_x509_crl(der).issuer]
        point = sm2.Sm2PublicKey.from_certificate(issuer).point
        assert gmalglib.sm2.SM2(pk=point).verify(tbs, raw)
        assert gmalg.SM2(pk=point, uid=sm2.DEFAULT_USER_ID).verify(tbs, raw[:32], raw[32:])
        bad = bytearray(tbs)
        bad[-3] ^= 1
        assert not gmalglib.sm2.SM2(pk=point).verify(bytes(bad), raw)


def test_sm2_crl_parsed_and_verified_by_openssl(sm2s: Any, tmp_path: Path) -> None:
    """OpenSSL 3 reads each SM2 CRL (`openssl crl -text`: SM2-with-SM3, CRL number, AKI) and verifies its
    signature over the TBSCertList (`pkeyutl -digest sm3 -pkeyopt distid:…`; `openssl crl` has no distid)."""
    import shutil as sh
    import subprocess

    from asn1crypto import crl as acrl

    from elicense.crypto import sm2

    if sh.which("openssl") is None:
        pytest.skip("no openssl CLI")
    cas = {c.subject: c for c in [*sm2s.home.root_certificates(), *sm2s.home.intermediate_certificates()]}
    for i, der in enumerate(_crls(sm2s)):
        (tmp_path / f"{i}.crl").write_bytes(der)
        text = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", f"{i}.crl", "-noout", "-text"],
                              cwd=tmp_path, capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert text.count("Signature Algorithm: SM2-with-SM3") == 2 and "X509v3 CRL Number" in text
        assert "X509v3 Authority Key Identifier" in text
        parsed = acrl.CertificateList.load(der)
        (tmp_path / "tbs").write_bytes(parsed["tbs_cert_list"].dump())
        (tmp_path / "sig").write_bytes(parsed["signature"].native)
        spki = sm2.Sm2PublicKey.from_certificate(cas[x509.load_der_x509_crl(der).issuer]).spki()
        (tmp_path / "pub.pem").write_bytes(b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki)
                                           + b"-----END PUBLIC KEY-----\n")  # fmt: skip
        out = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-in", "tbs", "-sigfile", "sig", "-pubin", "-inkey", "pub.pem",
             "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "Verified Successfully" in out.stdout, out.stderr


def test_sm2_crl_profile_reasons_and_lookup(sm2s: Any) -> None:
    """build_sm2_crl: the ECDSA profile (number, AKI, reasonCode, invalidityDate), parsed by cryptography and
    asn1crypto, verified and indexed by index_crl; a wrong key or an empty-subject mismatch is refused."""
    from asn1crypto import crl as acrl

    from elicense.crypto.sm2 import Sm2PrivateKey
    from elicense.errors import UsageError
    from elicense.status.crl import CRLError, RevokedCert, build_sm2_crl, index_crl, load_crl

    home = sm2s.home
    root = home.root_certificates()[0]
    key = Sm2PrivateKey.from_encrypted_pem((home.path / "keys/root.key.pem").read_bytes(), home.passphrase())
    revoked = [RevokedCert(7, NOW - dt.timedelta(days=2), "key_compromise", NOW - dt.timedelta(days=5)),
               RevokedCert(9, NOW - dt.timedelta(days=1))]  # fmt: skip
    der = build_sm2_crl(root, key, revoked, last_update=NOW, next_update=NOW + dt.timedelta(days=7), number=42)
    crl = load_crl(der)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert acrl.CertificateList.load(der)["tbs_cert_list"]["version"].native == "v2"
    ic = index_crl(crl, [root])
    assert ic.number == 42 and ic.next_update == NOW + dt.timedelta(days=7)
    assert ic.lookup(7) == RevokedCert(7, NOW - dt.timedelta(days=2), "key_compromise", NOW - dt.timedelta(days=5))
    assert ic.lookup(9) is not None and ic.lookup(9).reason == "unspecified" and ic.lookup(8) is None  # type: ignore[union-attr]
    assert ic.revoked.keys() == {7, 9}
    other = Sm2PrivateKey.generate()
    with pytest.raises(UsageError):  # the key must be the CA's
        build_sm2_crl(root, other, [], last_update=NOW, number=1)
    with pytest.raises(CRLError, match="not signed by a trusted CA"):  # a CA of another name cannot vouch
        index_crl(crl, home.intermediate_certificates())


def test_sm2_crl_size_is_bounded(sm2s: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import elicense.status.crl as crl_mod
    from elicense.crypto.sm2 import Sm2PrivateKey
    from elicense.errors import UsageError

    home = sm2s.home
    root = home.root_certificates()[0]
    key = Sm2PrivateKey.from_encrypted_pem((home.path / "keys/root.key.pem").read_bytes(), home.passphrase())
    monkeypatch.setattr(crl_mod, "MAX_CRL_ENTRIES", 3)
    many = (crl_mod.RevokedCert(i, NOW) for i in range(1, 10**9))  # never materialised: refused at entry 4
    with pytest.raises(UsageError, match="at most 3"):
        crl_mod.build_sm2_crl(root, key, many, last_update=NOW, number=1)
    monkeypatch.setattr(crl_mod, "MAX_CRL_BYTES", 100)
    with pytest.raises(crl_mod.CRLError, match="too large"):
        crl_mod.load_crl(_crls(sm2s)[0])


def test_sm2_signing_certificate_revoked_via_crl(sm2s: Any, tmp_path: Path) -> None:
    """A compromised SM2 authority certificate published in the SM2 CRL (the ES256 rules): a licence it signed
    after the compromise is INVALID signing_key_revoked; the list it signs now is refused, so a licence signed
    before the compromise has no status (INDETERMINATE status_unknown) until the authority gets a new key."""
    from elicense.home import Home
    from elicense.services.status import revoke_certificate, status_sections
    from elicense.status.store import StatusStore
    from elicense.verify import Status

    home_dir = tmp_path / "home"
    shutil.copytree(sm2s.home.path, home_dir)
    home = Home.load(home_dir)
    after, before = sm2s.issued["business-licence-jinan"], sm2s.issued["business-licence-revoked"]
    compromise = NOW - dt.timedelta(days=190)
    assert before.signed_at < compromise < after.signed_at
    assert before.licence.issuer.code == after.licence.issuer.code
    entry = home.authority(after.licence.issuer.code)
    revoke_certificate(home, home.certificates(entry.cert)[0], at=NOW, invalid_since=compromise)
    sections = status_sections(home, NOW)
    _, trust, _ = _section(sm2s)
    store = StatusStore.build(trust, status_lists=sections.status_lists, crls=sections.crls)
    assert store.problems == (f"status list of {entry.code}: signed with a revoked certificate",)
    v = _verifier(trust, store)
    res = v.verify(after.qr_payload, at=NOW)
    assert res.status is Status.INVALID and "signing_key_revoked" in {r.code for r in res.reasons}
    res = v.verify(before.qr_payload, at=NOW)
    assert res.status is Status.INDETERMINATE and [r.code for r in res.reasons] == ["status_unknown"]
    other = sm2s.issued["business-licence-nanjing"]  # another authority: untouched
    assert v.verify(other.qr_payload, at=NOW).status is Status.VALID


# -- revoke → next bundle → kiosk, through the CLI ----------------------------------------------


def _qr_png(payload: str) -> bytes:
    from elicense.qr.render import make_qr

    buf = io.BytesIO()
    make_qr(payload).save(buf, kind="png", scale=6, border=4)
    return buf.getvalue()


def test_sm2_revoke_reaches_the_kiosk_after_the_next_bundle(
    live: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`elicense revoke --home SM2HOME` → `elicense bundle` → `elicense verify --allow-alg SM2`: INVALID
    licence_revoked; a kiosk app following the installed bundle shows it too (and VALID before)."""
    from elicense.kiosk.server import make_app
    from elicense.verify import Verifier

    home = tmp_path / "sm2-out"
    shutil.copytree(live.home.path, home)
    installed = tmp_path / "kiosk-bundle.cose"
    shutil.copyfile(home / "trust-bundle.cose", installed)
    clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # noqa: E731 - after each new bundle
    app = make_app(Verifier.from_trust_file(installed, clock=clock, algorithms=SM2_ONLY), bundle_path=installed)
    app._reload_interval = 0.0
    name = "business-licence-nanjing"
    payload = live.issued[name].qr_payload
    qr = home / "licences" / f"{name}.qr.txt"
    lid = str(live.issued[name].licence.id)

    def kiosk() -> dict[str, Any]:
        return app.handle("POST", "/api/verify", _qr_png(payload)).json()  # type: ignore[no-any-return]

    assert kiosk()["status"] == "VALID"
    assert run(["verify", str(qr), "--trust", str(home / "trust-bundle.cose"), "--allow-alg", "SM2"]) == 0
    assert run(["revoke", lid, "--home", str(home), "--note", "（测试）吊销"]) == 0
    b = tmp_path / "b.cose"
    assert run(["bundle", "--home", str(home), "-o", str(b)]) == 0
    capsys.readouterr()
    assert run(["verify", str(qr), "--trust", str(b), "--allow-alg", "SM2", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "INVALID" and [r["code"] for r in doc["reasons"]] == ["licence_revoked"]
    assert kiosk()["status"] == "VALID"  # the kiosk has not got the new bundle yet
    assert run(["trust", "update", str(installed), str(b), "--allow-alg", "SM2"]) == 0
    after = kiosk()
    assert after["status"] == "INVALID" and "licence_revoked" in json.dumps(after)
    # the ECDSA default allow-list refuses the SM2 bundle outright: one line, exit 3, no verdict
    capsys.readouterr()
    assert run(["verify", str(qr), "--trust", str(b)]) == 3
    assert "--allow-alg SM2" in capsys.readouterr().err


# -- mixed suites: ES256 and SM2 authorities in one trust file, each with its own status ---------


def test_mixed_suites_each_licence_under_its_own_algorithm_and_status(
    world: Any, sm2s: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """山东 (370000) signs with ES256, 江苏 (320000) with SM2: one trust file with both PKIs and both status
    sections (ES256 and SM2 lists, ES256 and SM2 CRLs). With ES256+SM2 allowed each licence verifies under its
    own algorithm and its own issuer's list; with one suite allowed the other suite's licences are refused."""
    from elicense.status.section import to_section
    from elicense.status.statuslist import parse_status_list
    from elicense.trust.bundle import STATUS_SECTION, read_bundle_file
    from elicense.trust.file import dump_trust_file

    def part(w: Any, region: str, policy: AlgorithmPolicy | None) -> tuple[list[Any], list[Any], list[Any], Any]:
        h = w.home
        (r,) = [x for x in h.regions if x.code == region]
        entries = [e for e in h.trust_entries() if e[0].area_code[:2] == region[:2]]
        status = json.loads(read_bundle_file(w.trust_file, algorithms=policy).section(STATUS_SECTION) or b"{}")
        codes = {e[0].code for e in entries}
        lists = [x for x in _items(status, "status_lists") if parse_status_list(x).content.issuer in codes]
        return h.certificates(r.ca_cert), entries, lists, (h.root_certificates(), _items(status, "crls"))

    es_cas, es_entries, es_lists, (es_roots, es_crls) = part(world, "370000", None)
    gm_cas, gm_entries, gm_lists, (gm_roots, gm_crls) = part(sm2s, "320000", SM2_ONLY)
    doc = json.loads(dump_trust_file(
        roots=[*es_roots, *gm_roots], intermediates=[*es_cas, *gm_cas], authorities=[*es_entries, *gm_entries],
        issued_at=NOW, next_update=NOW + dt.timedelta(days=30),
    ))  # fmt: skip
    doc["status"] = to_section([*es_lists, *gm_lists], [*es_crls, *gm_crls])
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(doc, ensure_ascii=False))
    cases = [
        ("es", world, "business-licence-jinan", "VALID", None),
        ("es", world, "business-licence-revoked", "INVALID", "licence_revoked"),
        ("es", world, "food-business-licence-suspended", "INVALID", "licence_suspended"),
        ("gm", sm2s, "business-licence-nanjing", "VALID", None),
        ("gm", sm2s, "driving-licence-superseded", "INVALID", "licence_superseded"),
        ("gm", sm2s, "driving-licence-renewed", "VALID", None),
    ]
    files: dict[str, tuple[str, str, str | None]] = {}
    for tag, w, name, expected, code in cases:
        path = tmp_path / f"{tag}-{name}.qr.txt"
        path.write_text(w.issued[name].qr_payload)
        files[str(path)] = (tag, expected, code)
    common = ["--trust", str(mixed), "--at", NOW.isoformat(), "--json"]

    def verdicts(*allow: str) -> dict[str, dict[str, Any]]:
        capsys.readouterr()
        run(["verify", *files, *common, *(x for a in allow for x in ("--allow-alg", a))])
        return {json.loads(line)["input"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}

    both = verdicts("ES256", "SM2")
    for f, (tag, expected, code) in files.items():
        assert both[f]["status"] == expected, (f, both[f]["reasons"])
        assert [r["code"] for r in both[f]["reasons"]] == ([code] if code else []), f
        alg = next(c["detail"] for c in both[f]["checks"] if c["name"] == "algorithm")
        assert alg == {"gm": "SM2", "es": "ES256"}[tag]
        assert next(c["outcome"] for c in both[f]["checks"] if c["name"] == "certificate_revocation") == "PASSED"
    for allowed, refused in (("ES256", "gm"), ("SM2", "es")):
        one = verdicts(allowed)
        for f, (tag, expected, _code) in files.items():
            if tag == refused:
                assert [r["code"] for r in one[f]["reasons"]] == ["algorithm_not_allowed"], f
            else:
                assert one[f]["status"] == expected, f


def test_seal_signature_embeds_the_sm2_crls_with_revocations(
    sm2s: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`elicense sm2 seal` embeds the home's SM2 CRLs (the ones the bundle publishes): a seal made after
    `status revoke-cert` carries the revocation and its SES verification says so; before, it verifies."""
    from elicense.crypto.sm2 import Sm2Crl
    from elicense.home import Home
    from elicense.seal.ses import parse_signature
    from elicense.services.seals import seal_file
    from elicense.services.status import revoke_certificate

    home_dir = tmp_path / "home"
    shutil.copytree(sm2s.home.path, home_dir)
    home = Home.load(home_dir)
    lic = sm2s.issued["business-licence-jinan"]
    entry = home.authority(lic.licence.issuer.code)
    doc = tmp_path / "doc.qr.txt"
    doc.write_text(lic.qr_payload + "\n")
    before = seal_file(home, entry, doc, at=NOW).read_bytes()
    crls = [Sm2Crl.load(c) for c in parse_signature(before).crls]
    assert len(crls) == 2 and all(not c.revoked for c in crls)  # regional CA + root, nothing revoked yet
    cert = home.certificates(entry.cert)[0]
    revoke_certificate(home, cert, at=NOW + dt.timedelta(minutes=1))
    ses = seal_file(home, entry, doc, at=NOW + dt.timedelta(minutes=2))
    crls = [Sm2Crl.load(c) for c in parse_signature(ses.read_bytes()).crls]
    assert any(cert.serial_number in c.revoked for c in crls)
    trust = ["--trust", str(sm2s.trust_file), "--allow-alg", "SM2", "--json"]
    capsys.readouterr()
    run(["verify", str(ses), *trust, "--at", (NOW + dt.timedelta(minutes=3)).isoformat()])
    doc_json = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert doc_json["status"] == "INVALID" and "ses_certificate_revoked" in {r["code"] for r in doc_json["reasons"]}


def test_published_sm2_crl_lists_the_revoked_certificate(sm2s: Any, tmp_path: Path) -> None:
    """The CRL at an SM2 certificate's CRL distribution point (``bundle --publish-dir``) lists what
    `status revoke-cert` revoked, as the bundle's and the seal's CRLs do: a relying party that fetches
    the published CRL must not see a revoked SM2 authority certificate as good."""
    from elicense.crypto.sm2 import Sm2Crl
    from elicense.home import Home
    from elicense.services.status import revoke_certificate
    from elicense.services.trust import publication_files

    home_dir = tmp_path / "home"
    shutil.copytree(sm2s.home.path, home_dir)
    home = Home.load(home_dir)
    entry = home.authority(sm2s.issued["business-licence-jinan"].licence.issuer.code)
    cert = home.certificates(entry.cert)[0]
    revoke_certificate(home, cert, at=NOW)
    crls = [Sm2Crl.load(der) for rel, der in publication_files(home, NOW).items() if rel.endswith(".crl")]
    assert len(crls) >= 2
    assert any(cert.serial_number in c.revoked for c in crls)
