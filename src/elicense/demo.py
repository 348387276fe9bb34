"""A complete demo world, built offline: national root, two provinces, their
authorities, sample licences of every catalogue type, QR payloads and images.

Also the deterministic test PKI: with ``seed`` set, every key is derived from
the seed, so tests and examples get stable key ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from elicense.crypto.algorithms import Algorithm, PrivateKey
from elicense.crypto.keys import atomic_write
from elicense.crypto.pki import DEFAULT_PUBLICATION_BASE, make_regional_ca, make_root
from elicense.crypto.suites import make_end_entity_cert, write_key
from elicense.demo_status import add_status_samples, company_code, person_id, status_index
from elicense.home import DEMO_PASSPHRASE, AuthorityEntry, Home, RegionEntry, write_pem
from elicense.identifiers import USCC
from elicense.issue import IssuedLicence, LicenceBuilder, sign_licence
from elicense.model import Holder, HolderType

if TYPE_CHECKING:
    from elicense.catalog import Catalog
    from elicense.crypto.sm2 import Sm2PrivateKey

YEAR = dt.timedelta(days=365)


def _key(seed: bytes | None, label: str) -> PrivateKey:
    if seed is None:
        return ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(seed + b"/" + label.encode()).digest()
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return ec.derive_private_key(int.from_bytes(digest, "big") % (n - 1) + 1, ec.SECP256R1())


def _suite_key(seed: bytes | None, label: str, algorithm: Algorithm) -> PrivateKey | Sm2PrivateKey:
    """A demo key of ``algorithm``'s suite (ES256, or SM2 for ``elicense demo --alg sm2``)."""
    if algorithm is not Algorithm.SM2:
        return _key(seed, label)
    from elicense.crypto.sm2 import N, Sm2PrivateKey

    if seed is None:
        return Sm2PrivateKey.generate()
    digest = hashlib.sha256(seed + b"/sm2/" + label.encode()).digest()
    return Sm2PrivateKey.from_private_value(int.from_bytes(digest, "big") % (N - 2) + 1)


def _make_root(key: PrivateKey | Sm2PrivateKey, name: str, **kw: object) -> x509.Certificate:
    from elicense.crypto.algorithms import is_sm2_key

    if is_sm2_key(key):
        from elicense.crypto.sm2 import make_sm2_root

        return make_sm2_root(key, name, **kw)  # type: ignore[arg-type]
    return make_root(key, name, **kw)  # type: ignore[arg-type]


def _make_ca(key: PrivateKey | Sm2PrivateKey, name: str, **kw: object) -> x509.Certificate:
    from elicense.crypto.algorithms import is_sm2_key

    if is_sm2_key(key):
        from elicense.crypto.sm2 import make_sm2_regional_ca

        return make_sm2_regional_ca(key, name, **kw)  # type: ignore[arg-type]
    return make_regional_ca(key, name, **kw)  # type: ignore[arg-type]


def _serial(seed: bytes | None, label: str) -> int | None:
    if seed is None:
        return None
    return int.from_bytes(hashlib.sha256(b"serial/" + seed + label.encode()).digest()[:16], "big") >> 1


@dataclass(frozen=True)
class DemoAuthority:
    """Static description of a demo authority."""

    slug: str
    name: str
    area_code: str
    org_body: str
    types: tuple[str, ...]
    seal_name: str


REGIONS = {"370000": "山东省", "320000": "江苏省"}

AUTHORITIES = (
    DemoAuthority("jinan-approval", "济南市行政审批服务局", "370100", "MB285719",
                  ("business-licence", "food-business-licence"), "行政审批专用章"),
    DemoAuthority("shandong-housing", "山东省住房和城乡建设厅", "370000", "00431720",
                  ("construction-safety-licence",), "行政许可专用章"),
    DemoAuthority("nanjing-market", "南京市市场监督管理局", "320100", "MB161380",
                  ("business-licence", "food-business-licence"), "行政审批专用章"),
    DemoAuthority("nanjing-police", "南京市公安局", "320100", "00249581",
                  ("driving-licence", "resident-id-card"), "证件专用章"),
    DemoAuthority("nanjing-land", "南京市规划和自然资源局", "320100", "MB042663",
                  ("real-estate-title",), "不动产登记专用章"),
)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    """A sample licence to issue."""

    name: str
    authority: str
    type_slug: str
    serial: str
    holder: Holder
    fields: Mapping[str, object]
    years_ago: float = 0.5
    """How long ago it was issued/signed."""
    valid_years: float | None = 5
    """Validity length; ``None`` long-term."""


SAMPLES = (
    Sample("business-licence-jinan", "jinan-approval", "business-licence", "370100000123456",
           Holder("山东鲁信智造科技有限公司", company_code("370102", "MA3C8K2L"), HolderType.USCC),
           {"entity_type": "有限责任公司（自然人投资或控股）", "legal_representative": "王堃",
            "registered_capital": "500.00", "capital_currency": "人民币",
            "establishment_date": "2019-03-18", "domicile": "山东省济南市历下区经十路 17703 号",
            "business_scope": "一般项目：软件开发；信息系统集成服务；技术服务、技术开发、技术咨询。"},
           valid_years=None),
    Sample("food-business-licence-jinan", "jinan-approval", "food-business-licence", "JY23701020012345",
           Holder("济南泉城喆味餐饮有限公司", company_code("370102", "MA94HT0B"), HolderType.USCC),
           {"legal_representative": "李珺", "domicile": "山东省济南市历下区泉城路 180 号",
            "business_premises": "山东省济南市历下区泉城路 180 号一层",
            "main_business_format": "餐饮服务经营者（小型餐馆）",
            "business_items": "热食类食品制售；冷食类食品制售", "supervising_authority": "济南市历下区市场监督管理局"}),
    Sample("construction-safety-licence-shandong", "shandong-housing", "construction-safety-licence",
           "JZ20230456", Holder("山东齐鲁安建集团有限公司", company_code("370100", "MA3DQW6N"), HolderType.USCC),
           {"principal": "赵祎", "address": "山东省济南市市中区英雄山路 129 号", "economic_type": "有限责任公司",
            "licensed_scope": "建筑施工"}, valid_years=3),
    Sample("business-licence-nanjing", "nanjing-market", "business-licence", "320100000654321",
           Holder("南京金陵瑄昇科技有限公司", company_code("320102", "MA1XR7KP"), HolderType.USCC),
           {"entity_type": "有限责任公司", "legal_representative": "陈昇", "registered_capital": "1000.00",
            "capital_currency": "人民币", "establishment_date": "2021-07-01",
            "domicile": "江苏省南京市玄武区中山路 1 号", "business_scope": "技术服务；软件开发；数据处理服务。"},
           valid_years=None),
    Sample("driving-licence-nanjing", "nanjing-police", "driving-licence", "320102199003071234",
           Holder("周琇", person_id("320102", dt.date(1990, 3, 7), 123), HolderType.RESIDENT_ID),
           {"sex": "女", "nationality": "中国", "address": "江苏省南京市鼓楼区北京西路 2 号",
            "date_of_birth": "1990-03-07", "first_issue_date": "2012-05-20", "vehicle_classes": "C1"},
           valid_years=6),
    Sample("resident-id-card-nanjing", "nanjing-police", "resident-id-card", "320104198805120017",
           Holder("王堃", person_id("320104", dt.date(1988, 5, 12), 1), HolderType.RESIDENT_ID),
           {"sex": "男", "ethnicity": "汉", "date_of_birth": "1988-05-12", "address": "江苏省南京市秦淮区中华路 88 号"},
           valid_years=20),
    Sample("real-estate-title-nanjing", "nanjing-land", "real-estate-title", "2024N0012345",
           Holder("刘镕", person_id("320106", dt.date(1979, 11, 2), 45), HolderType.RESIDENT_ID),
           {"co_ownership": "单独所有", "location": "南京市鼓楼区汉中门大街 301 号 2 幢 1201 室",
            "unit_number": "320106003012GB00045F00021201", "right_type": "国有建设用地使用权/房屋所有权",
            "right_nature": "出让/市场化商品房", "usage": "城镇住宅用地/住宅",
            "area": "共有宗地面积 8650.00㎡/房屋建筑面积 98.50㎡",
            "term_of_use": "2006年01月01日起2075年12月31日止"}, valid_years=None),
    Sample("food-business-licence-expired", "nanjing-market", "food-business-licence", "JY23201000099999",
           Holder("南京旧时光餐饮店", company_code("320102", "MA1P0X2Q"), HolderType.USCC),
           {"legal_representative": "孙喆", "domicile": "江苏省南京市玄武区长江路 9 号",
            "business_premises": "江苏省南京市玄武区长江路 9 号", "main_business_format": "餐饮服务经营者（小型餐馆）",
            "business_items": "热食类食品制售", "supervising_authority": "南京市玄武区市场监督管理局"},
           years_ago=2.5, valid_years=2),
)  # fmt: skip


@dataclass(frozen=True)
class DemoResult:
    """What :func:`build_demo` made."""

    home: Home
    """The issuer home (``OUTDIR``)."""
    trust_file: Path
    """``OUTDIR/trust-bundle.json``."""
    issued: dict[str, IssuedLicence]
    """Sample name → signed licence."""
    qr_versions: dict[str, int]
    """Sample name → QR version at ECC M."""


def build_demo(
    outdir: Path,
    *,
    now: dt.datetime,
    seed: bytes | None = None,
    images: bool = True,
    pdf: bool = True,
    algorithm: Algorithm = Algorithm.ES256,
    publication_base: str | None = None,
) -> DemoResult:
    """Build the demo world in ``outdir`` (which must exist and be empty or disposable).

    ``algorithm=Algorithm.SM2`` builds an all-SM2/SM3 world (root, CAs, authorities, trust-list
    operators, lists, status lists, CRLs and bundle); it has no signed PDFs (pyHanko has no SM2
    CMS) — see ``specs/sm2.md``.
    """  # fmt: skip
    sm2_world = algorithm is Algorithm.SM2
    from elicense.catalog import Catalog
    from elicense.qr.render import make_qr

    catalog = Catalog.default()
    outdir.mkdir(parents=True, exist_ok=True)
    pw = DEMO_PASSPHRASE.encode()
    start = now - 3 * YEAR
    root_key = _suite_key(seed, "root", algorithm)
    root = _make_root(
        root_key,
        "国家电子证照信任根（演示）",
        not_before=start,
        not_after=now + 20 * YEAR,
        serial=_serial(seed, "root"),
    )
    write_pem(outdir / "pki/root.pem", [root])
    write_key(outdir / "keys/root.key.pem", root_key, pw)
    regions: list[RegionEntry] = []
    ca_keys: dict[str, tuple[PrivateKey | Sm2PrivateKey, x509.Certificate]] = {}
    for code, name in REGIONS.items():
        key = _suite_key(seed, f"ca-{code}", algorithm)
        cert = _make_ca(
            key,
            f"{name}电子证照签发CA（演示）",
            province=name,
            issuer_cert=root,
            issuer_key=root_key,
            not_before=start,
            not_after=now + 10 * YEAR,
            serial=_serial(seed, f"ca-{code}"),
            publication_base=publication_base or DEFAULT_PUBLICATION_BASE,
        )
        write_pem(outdir / f"pki/ca-{code}.pem", [cert])
        write_key(outdir / f"keys/ca-{code}.key.pem", key, pw)
        regions.append(RegionEntry(code, name, f"pki/ca-{code}.pem", f"keys/ca-{code}.key.pem"))
        ca_keys[code] = (key, cert)
    authorities: list[AuthorityEntry] = []
    for a in AUTHORITIES:
        region = a.area_code[:2] + "0000"
        ca_key, ca_cert = ca_keys[region]
        uscc = str(USCC.build("11", a.area_code, a.org_body))
        auth_key = _suite_key(seed, f"auth-{a.slug}", algorithm)
        cert = make_end_entity_cert(
            auth_key,
            a.name,
            uscc=uscc,
            province=REGIONS[region],
            issuer_cert=ca_cert,
            issuer_key=ca_key,
            not_before=start,
            not_after=now + 5 * YEAR,
            serial=_serial(seed, a.slug),
            publication_base=publication_base,
        )
        write_pem(outdir / f"pki/{a.slug}.pem", [cert])
        write_key(outdir / f"keys/{a.slug}.key.pem", auth_key, pw)
        types = tuple(catalog.get(t).code for t in a.types)
        authorities.append(
            AuthorityEntry(a.name, uscc, a.area_code, types, f"pki/{a.slug}.pem", f"keys/{a.slug}.key.pem", a.seal_name)
        )
    home = Home(
        outdir,
        ("pki/root.pem",),
        tuple(regions),
        tuple(authorities),
        demo=True,
        extra={"publication": {"base_url": publication_base or DEFAULT_PUBLICATION_BASE}},
    )
    home.save()
    trust_file = outdir / "trust-bundle.json"
    atomic_write(trust_file, home.trust_file_bytes(now=now))

    by_slug = {a.slug: entry for a, entry in zip(AUTHORITIES, authorities, strict=True)}
    issued: dict[str, IssuedLicence] = {}
    versions: dict[str, int] = {}
    for s in SAMPLES:
        entry = by_slug[s.authority]
        signed_at = now - dt.timedelta(days=round(s.years_ago * 365))
        start_day = (signed_at + dt.timedelta(hours=8)).date()  # licence dates are China Standard Time days
        end_day = None if s.valid_years is None else start_day + dt.timedelta(days=round(s.valid_years * 365))
        licence = (
            LicenceBuilder()
            .licence_type(s.type_slug, catalog)
            .serial(s.serial)
            .holder(s.holder)
            .issuer(entry.authority)
            .issued_on(start_day)
            .validity(start_day, end_day)
            .fields(s.fields)
            .status_index(status_index(seed, s.name))
            .build()
        )
        result = sign_licence(licence, home.signer(entry), at=signed_at, catalog=catalog)
        issued[s.name] = result
        base = outdir / "licences" / s.name
        atomic_write(base.with_suffix(".qr.txt"), (result.qr_payload + "\n").encode("ascii"))
        atomic_write(base.with_suffix(".cose"), result.full_payload)
        qr = make_qr(result.qr_payload)
        versions[s.name] = int(qr.version)
        if images:
            import io

            buf = io.BytesIO()
            qr.save(buf, kind="png", scale=6, border=4)
            atomic_write(base.with_suffix(".qr.png"), buf.getvalue())
    if sm2_world:  # GB/T 38540: each authority's SES_Seal, a detached SES_Signature beside every licence
        from elicense.seal.sm2home import add_sm2_seals, seal_file

        home = add_sm2_seals(
            home,
            now=now,
            images=images,
            keys=None if seed is None else (lambda label: _suite_key(seed, label, algorithm)),
        )
        for s in SAMPLES:
            entry = by_slug[s.authority]
            seal_file(home, entry, outdir / "licences" / f"{s.name}.qr.txt", at=issued[s.name].signed_at)
    # revoked / suspended / superseded (issue 5)
    versions.update(
        add_status_samples(home, issued, now=now, catalog=catalog, trust_file=trust_file, images=images, seed=seed)
    )  # SM2 world: SM2 status lists and CRLs
    if sm2_world:  # the status samples get their SES_Signature too
        from elicense.seal.sm2home import seal_file

        for name in sorted(set(issued) - {s.name for s in SAMPLES}):
            signed = issued[name]
            seal_file(
                home,
                home.authority(signed.licence.issuer.code),
                outdir / "licences" / f"{name}.qr.txt",
                at=signed.signed_at,
            )
        if pdf:  # the SM2 world's licence files, every sample: sealed OFDs (GB/T 33190 + GB/T 38540), issue 18
            from elicense.ofd.home import issue_ofd

            for name, signed in issued.items():
                atomic_write(outdir / "licences" / f"{name}.ofd", issue_ofd(home, signed))
    if pdf and not sm2_world:  # sealed, signed licence PDFs (issue 3)
        from elicense.pdf.sign import PdfSigningOptions, seal_and_sign

        for name, signed in issued.items():
            entry = home.authority(signed.licence.issuer.code)
            options = PdfSigningOptions(seal_name=entry.seal_name)
            document = seal_and_sign(signed, home.signer(entry), options=options)
            atomic_write(outdir / "licences" / f"{name}.pdf", document)
    bundle_file = _publish_trust_bundle(
        outdir, trust_file, root_key=root_key, now=now, seed=seed, catalog=catalog, algorithm=algorithm
    )
    return DemoResult(Home.load(outdir), bundle_file, issued, versions)


# 江苏 recognises business and food licences from 山东, not construction-safety licences;
# 山东 recognises business, food, driving licences and ID cards from 江苏, not real-estate titles.
AGREEMENTS = (
    ("320000", "370000", ("business-licence", "food-business-licence")),
    ("370000", "320000", ("business-licence", "food-business-licence", "driving-licence", "resident-id-card")),
)


def _publish_trust_bundle(
    outdir: Path,
    json_file: Path,
    *,
    root_key: PrivateKey | Sm2PrivateKey,
    now: dt.datetime,
    seed: bytes | None,
    catalog: Catalog,
    algorithm: Algorithm = Algorithm.ES256,
) -> Path:
    """Trust-list operators + signed lists + the offline bundle (issue 4); the JSON file is folded in.

    The status section the status samples added to the JSON trust file travels on as
    the bundle's ``status`` extra; ``trust-bundle.cose`` is then the one trust file.
    """
    import json

    from elicense.trust.bundle import STATUS_SECTION
    from elicense.trust.publish import add_trust_operators, publish

    home = add_trust_operators(
        Home.load(outdir), root_key=root_key, now=now,
        agreements=[(r, i, [catalog.get(t).code for t in ts]) for r, i, ts in AGREEMENTS],
        keys=None if seed is None else (lambda label: _suite_key(seed, label, algorithm)),
    )  # fmt: skip
    extras: dict[str, bytes] = {}
    doc = json.loads(json_file.read_bytes())
    if isinstance(doc, dict) and STATUS_SECTION in doc:
        extras[STATUS_SECTION] = json.dumps(doc[STATUS_SECTION], ensure_ascii=False).encode("utf-8")
    _, _, bundle = publish(home, now=now, extras=extras)
    bundle_file = outdir / "trust-bundle.cose"
    atomic_write(bundle_file, bundle)
    json_file.unlink()
    return bundle_file
