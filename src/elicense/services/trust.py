"""Publishing trust data from an issuer home: region lists, the national list, the bundle (a home-level service).

The home's ``home.json`` carries a ``trust`` section (kept in :attr:`Home.extra`)::

    "trust": {
      "national": {"operator": NAME, "cert": "pki/tl-national.pem", "key": "keys/tl-national.key.pem"},
      "regions": {"370000": {"operator": NAME, "cert": ..., "key": ...}, ...},
      "agreements": [[RELYING, ISSUING, [TYPE, ...]], ...],
      "equivalences": [[TYPE, TYPE, ...], ...],
      "history": {USCC: [["granted"|"withdrawn", ISO-8601Z], ...]},
      "roots": [{"root": PEM path, "cross": PEM path|null, "drop_previous": false}],
      "sequence": LAST PUBLISHED
    }

A ``publication`` section names the base URL where the home's CA certificates and CRLs
live (``{"base_url": "http://…/"}``): every certificate the home issues points there (CRL
distribution point, AIA ``caIssuers``), and :func:`publication_files` writes those files
(``elicense bundle --publish-dir DIR``).

Operator keys are encrypted like every key of the home. Every publication
increments ``sequence`` (used for the bundle and all its lists), so a newer
bundle always has higher numbers than what kiosks hold.

Above :mod:`elicense.home` (whose keys, certificates and ``home.json`` it reads and writes) and
:mod:`elicense.trust` (the list and bundle formats, which take explicit keys and certificates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from elicense.crypto.algorithms import Algorithm, PrivateKey
from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, algorithm_of, publication_paths
from elicense.crypto.sm2 import Sm2PrivateKey
from elicense.crypto.suites import load_key, make_end_entity_cert, make_signer, new_key, write_key
from elicense.errors import StorageError, UsageError
from elicense.home import Home, write_pem
from elicense.trust.bundle import RootEntry, build_bundle
from elicense.trust.lists import (
    GRANTED,
    Agreement,
    AuthorityRecord,
    NationalList,
    RegionList,
    RegionPointer,
    StatusChange,
    digest,
    national_list_element,
    region_list_element,
    sign_element,
)

SECTION = "trust"


def publication_files(
    home: Home, now: dt.datetime, *, crl_validity: dt.timedelta = dt.timedelta(days=7), number: int = 1
) -> dict[str, bytes]:
    """The files under the publication base URL: ``ca/ID.cer`` (DER) of every CA of the home and
    ``crl/ID.crl`` (DER) of every CA whose key the home holds (fresh, signed at ``now``)."""
    cas = [c for rel in home.roots for c in home.certificates(rel)]
    cas += [home.certificates(r.ca_cert)[0] for r in home.regions]
    out: dict[str, bytes] = {}
    for ca in cas:
        out[publication_paths(ca)[0]] = ca.public_bytes(serialization.Encoding.DER)
    # Home.crls signs each CA's CRL in the CA's own suite (SM2 too) with the home's certificate revocations
    crls = [c.public_bytes(serialization.Encoding.DER) for c in home.crls(now, crl_validity, number)]
    by_subject = {ca.subject.public_bytes(): ca for ca in cas}
    for der in crls:
        issuer = asn1_crl.CertificateList.load(der)["tbs_cert_list"]["issuer"].dump()
        owner = by_subject.get(issuer)
        if owner is not None:
            out[publication_paths(owner)[1]] = der
    return out


def add_trust_operators(
    home: Home,
    *,
    root_key: PrivateKey | Sm2PrivateKey,
    now: dt.datetime,
    agreements: Sequence[tuple[str, str, Sequence[str]]] = (),
    equivalences: Sequence[Sequence[str]] = (),
    national_operator: str = "国家电子证照信任列表运营机构",
    years: int = 5,
    keys: Callable[[str], PrivateKey | Sm2PrivateKey] | None = None,
) -> Home:
    """Create the national and regional trust-list operator keys/certificates; save the home.

    ``keys(label)`` derives keys deterministically (the demo's seeded test PKI); default: fresh keys
    of the root's suite (an SM2 root gets SM2 operators, and SM2-signed lists and bundle).
    """
    pw = home.passphrase()
    root = home.root_certificates()[0]
    suite = Algorithm.SM2 if algorithm_of(root) is Algorithm.SM2 else Algorithm.ES256
    make_key = keys or (lambda label: new_key(suite))
    not_after = min(now + dt.timedelta(days=365 * years), root.not_valid_after_utc)
    nat_key = make_key("tl-national")
    nat_cert = make_end_entity_cert(
        nat_key,
        national_operator,
        uscc=None,
        province=None,
        issuer_cert=root,
        issuer_key=root_key,
        not_before=now - dt.timedelta(days=1),
        not_after=not_after,
        eku=OID_EKU_TRUST_LIST_SIGNING,
        publication_base=home.publication_base(),
    )
    write_pem(home.path / "pki/tl-national.pem", [nat_cert])
    write_key(home.path / "keys/tl-national.key.pem", nat_key, pw)
    regions: dict[str, dict[str, str]] = {}
    for region in home.regions:
        if region.ca_key is None:
            raise UsageError(f"region {region.code} has no CA key in {home.path}")
        ca_cert = home.certificates(region.ca_cert)[0]
        ca_key = load_key((home.path / region.ca_key).read_bytes(), pw, ca_cert)
        key = make_key(f"tl-{region.code}")
        operator = f"{region.name}电子证照信任列表运营机构"
        cert = make_end_entity_cert(
            key,
            operator,
            uscc=None,
            province=region.name,
            issuer_cert=ca_cert,
            issuer_key=ca_key,
            not_before=now - dt.timedelta(days=1),
            not_after=min(not_after, ca_cert.not_valid_after_utc),
            eku=OID_EKU_TRUST_LIST_SIGNING,
            publication_base=home.publication_base(),
        )
        write_pem(home.path / f"pki/tl-{region.code}.pem", [cert])
        write_key(home.path / f"keys/tl-{region.code}.key.pem", key, pw)
        regions[region.code] = {
            "operator": operator,
            "cert": f"pki/tl-{region.code}.pem",
            "key": f"keys/tl-{region.code}.key.pem",
        }
    section = {
        "national": {"operator": national_operator, "cert": "pki/tl-national.pem", "key": "keys/tl-national.key.pem"},
        "regions": regions,
        "agreements": [[r, i, list(ts)] for r, i, ts in agreements],
        "equivalences": [list(e) for e in equivalences],
        "history": {},
        "roots": [{"root": rel, "cross": None, "drop_previous": False} for rel in home.roots[:1]],
        "sequence": 0,
    }
    new = replace(home, extra={**home.extra, SECTION: section})
    new.save()
    return new


def _section(home: Home) -> dict[str, Any]:
    section = home.extra.get(SECTION)
    if not isinstance(section, dict):
        raise UsageError(
            f"{home.path} has no trust-list operators (no 'trust' section in home.json)",
            message_zh="签发目录中没有信任列表运营机构配置",
        )
    return section


def _signer(home: Home, entry: Mapping[str, str]) -> tuple[PrivateKey | Sm2PrivateKey, x509.Certificate]:
    try:
        pem = (home.path / entry["key"]).read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {entry['key']}: {exc.strerror}") from exc
    cert = home.certificates(entry["cert"])[0]
    return load_key(pem, home.passphrase(), cert), cert


def _history(home: Home, section: Mapping[str, Any], code: str, cert: x509.Certificate) -> tuple[StatusChange, ...]:
    raw = section.get("history", {}).get(code)
    if not raw:
        return (StatusChange(GRANTED, cert.not_valid_before_utc),)
    return tuple(StatusChange(s, dt.datetime.fromisoformat(t.replace("Z", "+00:00"))) for s, t in raw)


def publish(
    home: Home,
    *,
    now: dt.datetime,
    validity: dt.timedelta = dt.timedelta(days=30),
    extras: Mapping[str, bytes] | None = None,
    sequence: int | None = None,
) -> tuple[bytes, dict[str, bytes], bytes]:
    """Sign fresh lists and a bundle: ``(national_xml, {region: xml}, bundle)``; saves the new sequence."""
    section = _section(home)
    seq = sequence if sequence is not None else int(section.get("sequence", 0)) + 1
    next_update = now + validity
    region_xml: dict[str, bytes] = {}
    pointers: list[RegionPointer] = []
    for region in home.regions:
        op = section["regions"].get(region.code)
        if op is None:
            raise UsageError(f"no trust-list operator for region {region.code}")
        key, cert = _signer(home, op)
        ca = home.certificates(region.ca_cert)
        authorities = []
        for a in home.authorities:
            if a.region != region.code:
                continue
            certs = tuple(home.certificates(a.cert))
            authorities.append(
                AuthorityRecord(
                    a.name, a.code, a.area_code, certs, a.licence_types, _history(home, section, a.code, certs[0])
                )
            )
        rl = RegionList(region.code, region.name, op["operator"], seq, now, next_update, tuple(ca), tuple(authorities))
        data = sign_element(region_list_element(rl), key, cert, ca)
        region_xml[region.code] = data
        pointers.append(RegionPointer(region.code, f"regions/{region.code}.xml", digest(data), cert))
    nat_key, nat_cert = _signer(home, section["national"])
    nl = NationalList(
        operator=section["national"]["operator"],
        sequence=seq,
        issued_at=now,
        next_update=next_update,
        pointers=tuple(pointers),
        agreements=tuple(Agreement(r, i, frozenset(ts)) for r, i, ts in section.get("agreements", [])),
        equivalences=tuple(frozenset(e) for e in section.get("equivalences", [])),
    )
    national_xml = sign_element(national_list_element(nl), nat_key, nat_cert)
    roots = tuple(
        RootEntry(
            home.certificates(e["root"])[0],
            home.certificates(e["cross"])[0] if e.get("cross") else None,
            bool(e.get("drop_previous", False)),
        )
        for e in section.get("roots") or [{"root": home.roots[0]}]
    )
    bundle = build_bundle(
        national_xml=national_xml,
        region_xml=region_xml,
        signer=make_signer(nat_key, nat_cert),
        roots=roots,
        sequence=seq,
        issued_at=now,
        next_update=next_update,
        extras=extras,
    )
    replace(home, extra={**home.extra, SECTION: {**section, "sequence": seq}}).save()
    return national_xml, region_xml, bundle
