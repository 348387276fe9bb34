"""A small two-region PKI + trust-list world for the trust tests (deterministic keys, no IO).

Regions 370000 (山东) and 320000 (江苏), two authorities each, the national and regional
trust-list operators, and signed sample licences from :data:`elicense.demo.SAMPLES`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509

from elicense.catalog import Catalog
from elicense.crypto.keys import SoftwareSigner, key_id
from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, make_end_entity, make_regional_ca, make_root
from elicense.demo import AUTHORITIES, SAMPLES, _key
from elicense.identifiers import USCC
from elicense.issue import LicenceBuilder, sign_licence
from elicense.model import Authority
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

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=3 * 365)
SEED = b"trust-tests"
REGIONS = {"370000": "山东省", "320000": "江苏省"}
CATALOG = Catalog.default()


def code(slug: str) -> str:
    """Catalogue type code of a slug."""
    return CATALOG.get(slug).code


@dataclass
class World:
    """Keys and certificates of the test world; :meth:`bundle` signs a bundle from it."""

    root_key: Any
    root: x509.Certificate
    ca: dict[str, tuple[Any, x509.Certificate]]
    authorities: dict[str, tuple[Any, x509.Certificate, str, str, tuple[str, ...]]]
    """slug → (key, cert, uscc, area, types)."""
    national_op: tuple[Any, x509.Certificate]
    region_ops: dict[str, tuple[Any, x509.Certificate]]
    roots: list[RootEntry] = field(default_factory=list)
    history: dict[str, tuple[StatusChange, ...]] = field(default_factory=dict)
    agreements: list[Agreement] = field(default_factory=list)
    equivalences: list[frozenset[str]] = field(default_factory=list)

    def signer(self, slug: str) -> SoftwareSigner:
        key, cert, *_ = self.authorities[slug]
        area = self.authorities[slug][3]
        return SoftwareSigner(key, cert, (self.ca[area[:2] + "0000"][1],))

    def region_list(
        self,
        region: str,
        *,
        sequence: int,
        issued_at: dt.datetime,
        next_update: dt.datetime,
        authorities: Sequence[AuthorityRecord] | None = None,
    ) -> RegionList:
        if authorities is None:
            authorities = [
                AuthorityRecord(
                    a.name, uscc, area, (cert,), types, self.history.get(a.slug, (StatusChange(GRANTED, START),))
                )
                for a in AUTHORITIES
                for (_, cert, uscc, area, types) in [self.authorities[a.slug]]
                if area[:2] == region[:2]
            ]
        return RegionList(
            region,
            REGIONS[region],
            f"{REGIONS[region]}信任列表运营机构",
            sequence,
            issued_at,
            next_update,
            (self.ca[region][1],),
            tuple(authorities),
        )

    def sign_region(self, rl: RegionList) -> bytes:
        key, cert = self.region_ops[rl.region]
        return sign_element(region_list_element(rl), key, cert, (self.ca[rl.region][1],))

    def records(self, region: str) -> list[AuthorityRecord]:
        """The authority records region ``region`` lists by default."""
        return list(
            self.region_list(region, sequence=1, issued_at=NOW, next_update=NOW + dt.timedelta(days=1)).authorities
        )

    def add_authority(
        self, slug: str, region: str, *, name: str, uscc: str, area: str, types: tuple[str, ...]
    ) -> AuthorityRecord:
        """A new authority key and certificate under ``region``'s CA (not listed anywhere yet)."""
        k = _key(SEED, f"extra-{slug}")
        ca_key, ca_cert = self.ca[region]
        cert = make_end_entity(
            k.public_key(),
            name,
            uscc=uscc,
            province=REGIONS[region],
            issuer_cert=ca_cert,
            issuer_key=ca_key,
            not_before=START,
            not_after=NOW + dt.timedelta(days=5 * 365),
        )
        self.authorities[slug] = (k, cert, uscc, area, types)
        return AuthorityRecord(name, uscc, area, (cert,), types, (StatusChange(GRANTED, START),))

    def crls(self) -> list[bytes]:
        """Empty, fresh CRLs of the root and every regional CA (status data needs them)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        from elicense.status.crl import build_crl

        issuers = [(self.root, self.root_key), *((c, k) for k, c in self.ca.values())]
        return [
            build_crl(
                c, k, [], last_update=NOW - dt.timedelta(days=1), next_update=NOW + dt.timedelta(days=7), number=1
            ).public_bytes(Encoding.DER)
            for c, k in issuers
        ]

    def lists(
        self,
        *,
        sequence: int = 1,
        issued_at: dt.datetime = NOW - dt.timedelta(days=1),
        next_update: dt.datetime = NOW + dt.timedelta(days=30),
        region_next_update: Mapping[str, dt.datetime] | None = None,
        region_sequence: Mapping[str, int] | None = None,
        region_authorities: Mapping[str, Sequence[AuthorityRecord]] | None = None,
    ) -> tuple[bytes, dict[str, bytes]]:
        region_xml = {}
        pointers = []
        for region in REGIONS:
            rl = self.region_list(
                region,
                sequence=(region_sequence or {}).get(region, sequence),
                issued_at=issued_at,
                next_update=(region_next_update or {}).get(region, next_update),
                authorities=(region_authorities or {}).get(region),
            )
            data = self.sign_region(rl)
            region_xml[region] = data
            pointers.append(RegionPointer(region, f"regions/{region}.xml", digest(data), self.region_ops[region][1]))
        nl = NationalList(
            "国家信任列表运营机构",
            sequence,
            issued_at,
            next_update,
            tuple(pointers),
            tuple(self.agreements),
            tuple(self.equivalences),
        )
        key, cert = self.national_op
        return sign_element(national_list_element(nl), key, cert), region_xml

    def bundle(
        self,
        *,
        sequence: int = 1,
        bundle_sequence: int | None = None,
        issued_at: dt.datetime = NOW - dt.timedelta(days=1),
        next_update: dt.datetime = NOW + dt.timedelta(days=30),
        extras: Mapping[str, bytes] | None = None,
        **kwargs: Any,
    ) -> bytes:
        national_xml, region_xml = self.lists(sequence=sequence, issued_at=issued_at, next_update=next_update, **kwargs)
        key, cert = self.national_op
        return build_bundle(
            national_xml=national_xml,
            region_xml=region_xml,
            signer=SoftwareSigner(key, cert),
            roots=self.roots,
            sequence=bundle_sequence or sequence,
            issued_at=issued_at,
            next_update=next_update,
            extras=extras,
        )

    def unchecked_bundle(
        self,
        *,
        sequence: int = 1,
        issued_at: dt.datetime = NOW - dt.timedelta(days=1),
        next_update: dt.datetime = NOW + dt.timedelta(days=30),
        extras: Mapping[str, bytes] | None = None,
        **kwargs: Any,
    ) -> bytes:
        """A bundle signed by the national operator WITHOUT the publisher's cross-region checks.

        What a careless or compromised publishing tool would hand out: every list is authentic,
        only the checks of :func:`elicense.trust.bundle.build_bundle` beyond the signatures are skipped.
        """
        from elicense.qr import cbor
        from elicense.qr.cose import sign1
        from elicense.trust.bundle import FORMAT, _der, _roots_doc, derive_index, verify_xml_lists
        from elicense.trust.common import iso

        national_xml, region_xml = self.lists(sequence=sequence, issued_at=issued_at, next_update=next_update, **kwargs)
        national, regions = verify_xml_lists(
            national_xml, region_xml, root=self.roots[-1].root, anchors=[e.root for e in self.roots]
        )
        key, cert = self.national_op
        doc = {
            "format": FORMAT,
            "sequence": sequence,
            "issued_at": iso(issued_at),
            "next_update": iso(next_update),
            "signer": [_der(cert)],
            "roots": _roots_doc(self.roots),
            "national": national_xml,
            "regions": dict(region_xml),
            "index": derive_index(national, regions),
            "extras": dict(extras or {}),
        }
        signer = SoftwareSigner(key, cert)
        return sign1(cbor.dumps(doc), signer, key_id(cert))


def make_world(seed: bytes = SEED) -> World:
    root_key = _key(seed, "root")
    root = make_root(
        root_key, "国家电子证照信任根（测试）", not_before=START, not_after=NOW + dt.timedelta(days=20 * 365)
    )
    ca = {}
    for region, name in REGIONS.items():
        k = _key(seed, f"ca-{region}")
        ca[region] = (
            k,
            make_regional_ca(
                k,
                f"{name}CA",
                province=name,
                issuer_cert=root,
                issuer_key=root_key,
                not_before=START,
                not_after=NOW + dt.timedelta(days=3650),
            ),
        )
    authorities = {}
    for a in AUTHORITIES:
        region = a.area_code[:2] + "0000"
        uscc = str(USCC.build("11", a.area_code, a.org_body))
        k = _key(seed, f"auth-{a.slug}")
        cert = make_end_entity(
            k.public_key(),
            a.name,
            uscc=uscc,
            province=REGIONS[region],
            issuer_cert=ca[region][1],
            issuer_key=ca[region][0],
            not_before=START,
            not_after=NOW + dt.timedelta(days=5 * 365),
        )
        authorities[a.slug] = (k, cert, uscc, a.area_code, tuple(code(t) for t in a.types))
    nk = _key(seed, "tl-national")
    ncert = make_end_entity(
        nk.public_key(),
        "国家信任列表运营机构",
        uscc=None,
        province=None,
        issuer_cert=root,
        issuer_key=root_key,
        not_before=START,
        not_after=NOW + dt.timedelta(days=5 * 365),
        eku=OID_EKU_TRUST_LIST_SIGNING,
    )
    region_ops = {}
    for region, name in REGIONS.items():
        k = _key(seed, f"tl-{region}")
        region_ops[region] = (
            k,
            make_end_entity(
                k.public_key(),
                f"{name}信任列表运营机构",
                uscc=None,
                province=name,
                issuer_cert=ca[region][1],
                issuer_key=ca[region][0],
                not_before=START,
                not_after=NOW + dt.timedelta(days=5 * 365),
                eku=OID_EKU_TRUST_LIST_SIGNING,
            ),
        )
    world = World(root_key, root, ca, authorities, (nk, ncert), region_ops, roots=[RootEntry(root)])
    # 江苏 accepts business and food licences from 山东, not construction safety;
    # 山东 accepts business, driving and ID from 江苏, not real-estate titles.
    world.agreements = [
        Agreement("320000", "370000", frozenset({code("business-licence"), code("food-business-licence")})),
        Agreement(
            "370000",
            "320000",
            frozenset(
                {
                    code("business-licence"),
                    code("driving-licence"),
                    code("resident-id-card"),
                    code("food-business-licence"),
                }
            ),
        ),
    ]
    return world


def issue(world: World, sample_name: str, *, signed_at: dt.datetime = NOW - dt.timedelta(days=100)) -> str:
    """Sign one of the demo samples (by name) with the world's keys; return the QR payload."""
    s = next(x for x in SAMPLES if x.name == sample_name)
    _, _, uscc, area, _ = world.authorities[s.authority]
    a = next(x for x in AUTHORITIES if x.slug == s.authority)
    day = signed_at.date()
    licence = (
        LicenceBuilder()
        .licence_type(s.type_slug, CATALOG)
        .serial(s.serial)
        .holder(s.holder)
        .issuer(Authority(a.name, uscc, area))
        .issued_on(day)
        .validity(day, None if s.valid_years is None else day + dt.timedelta(days=round(s.valid_years * 365)))
        .fields(s.fields)
        .status_index(7)
        .build()
    )
    return sign_licence(licence, world.signer(s.authority), at=signed_at, catalog=CATALOG).qr_payload


__all__ = ["NOW", "START", "NationalList", "World", "code", "issue", "make_world", "replace"]
