"""Status samples of the demo world: a revoked, a suspended and a superseded licence.

Called by :func:`elicense.demo.build_demo` after the regular samples: registers
every demo licence in the home's registry, applies the status changes through
the same service the CLI uses, and adds the signed status lists and CRLs to the
demo trust file, so ``elicense verify`` shows each state with its reason. Below
:mod:`elicense.demo` (it imports nothing from it): the sample identifiers both use live here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from elicense.crypto.keys import atomic_write
from elicense.home import AuthorityEntry, Home
from elicense.identifiers import USCC, ResidentId
from elicense.issue import IssuedLicence, LicenceBuilder, sign_licence
from elicense.model import Holder, HolderType
from elicense.qr.render import make_qr
from elicense.registry import Registry
from elicense.services.status import change_status, registry_url, status_sections
from elicense.status.lifecycle import Action
from elicense.status.section import add_to_trust_file

if TYPE_CHECKING:
    from elicense.catalog import Catalog

ACTOR = "demo"


# -- sample identifiers, shared with elicense.demo -------------------------------------------


def person_id(area: str, birth: dt.date, seq: int) -> str:
    """A valid resident id number of a demo holder."""
    return str(ResidentId.build(area, birth, seq))


def company_code(area: str, body: str) -> str:
    """A valid USCC of a demo company."""
    return str(USCC.build("91", area, body))


def status_index(seed: bytes | None, name: str) -> int | None:
    """Status-list index of a demo licence: fixed with a seed (stable test worlds), else ``None``."""
    if seed is None:
        return None  # drawn at random by the builder when status lists exist
    return int.from_bytes(hashlib.sha256(b"index/" + seed + name.encode()).digest()[:4], "big") % 131_072


def add_status_samples(
    home: Home,
    issued: dict[str, IssuedLicence],
    *,
    now: dt.datetime,
    catalog: Catalog,
    trust_file: Path,
    images: bool,
    seed: bytes | None = None,
) -> dict[str, int]:
    """Issue the status samples into ``issued``, register everything, publish status; QR versions."""
    by_type = {t: home.authority_for_type(catalog.get(t).code) for t in
               ("business-licence", "food-business-licence", "driving-licence")}  # fmt: skip
    signed_at = now - dt.timedelta(days=200)
    food = {
        "legal_representative": "钱昇", "domicile": "山东省济南市槐荫区经二路 66 号",
        "business_premises": "山东省济南市槐荫区经二路 66 号", "main_business_format": "餐饮服务经营者（小型餐馆）",
        "business_items": "热食类食品制售", "supervising_authority": "济南市槐荫区市场监督管理局",
    }  # fmt: skip
    business = {
        "entity_type": "有限责任公司", "legal_representative": "吴瑄", "registered_capital": "200.00",
        "capital_currency": "人民币", "establishment_date": "2020-09-09",
        "domicile": "山东省济南市历城区工业南路 57 号", "business_scope": "食品销售（仅销售预包装食品）。",
    }  # fmt: skip
    driving = {
        "sex": "男", "nationality": "中国", "address": "江苏省南京市建邺区江东中路 108 号",
        "date_of_birth": "1985-08-16", "first_issue_date": "2009-04-01", "vehicle_classes": "C1",
    }  # fmt: skip
    driver = Holder("郑堃", person_id("320105", dt.date(1985, 8, 16), 77), HolderType.RESIDENT_ID)
    specs = [
        ("business-licence-revoked", "business-licence", "370100000777001", 1, None,
         Holder("济南速达商贸有限公司", company_code("370112", "MA3R5T7Y"), HolderType.USCC), business, signed_at),
        ("food-business-licence-suspended", "food-business-licence", "JY23701040077002", 1, None,
         Holder("济南槐荫喆香小吃店", company_code("370104", "MA3W8E2R"), HolderType.USCC), food, signed_at),
        ("driving-licence-superseded", "driving-licence", "3201050077", 1, None, driver, driving, signed_at),
    ]  # fmt: skip
    url = registry_url(home)
    registry = Registry.open(url)
    try:
        for result in issued.values():  # the regular samples first (their indexes are taken)
            if registry.get(str(result.licence.id)) is None:
                registry.add_issued(result, actor=ACTOR, at=result.signed_at)
        for name, slug, serial, version, supersedes, holder, fields, when in specs:
            issued[name] = _issue(
                home, registry, catalog, by_type[slug], slug, serial, version, supersedes, holder, fields, when, seed
            )
        old = issued["driving-licence-superseded"].licence
        issued["driving-licence-renewed"] = _issue(
            home, registry, catalog, by_type["driving-licence"], "driving-licence", old.id.serial, 2,
            str(old.id), driver, {**driving, "vehicle_classes": "C1E"}, now - dt.timedelta(days=30), seed,
        )  # fmt: skip
        ids = {n: str(issued[n].licence.id) for n in issued}
        change_status(registry, ids["business-licence-revoked"], Action.REVOKE, at=now, actor=ACTOR,
                      effective_at=now - dt.timedelta(days=10), reason="revoked",
                      note="（演示）行政处罚决定书 济审罚〔2026〕17号")  # fmt: skip
        change_status(registry, ids["food-business-licence-suspended"], Action.SUSPEND, at=now, actor=ACTOR,
                      effective_at=now - dt.timedelta(days=3), note="（演示）暂扣 30 日")  # fmt: skip
        change_status(registry, ids["driving-licence-superseded"], Action.SUPERSEDE, at=now, actor=ACTOR,
                      effective_at=now - dt.timedelta(days=30), successor=ids["driving-licence-renewed"])  # fmt: skip
    finally:
        registry.close()
    sections = status_sections(home, now)
    add_to_trust_file(trust_file, sections.status_lists, sections.crls)

    versions: dict[str, int] = {}
    for name in ("business-licence-revoked", "food-business-licence-suspended",
                 "driving-licence-superseded", "driving-licence-renewed"):  # fmt: skip
        result = issued[name]
        base = home.path / "licences" / name
        atomic_write(base.with_suffix(".qr.txt"), (result.qr_payload + "\n").encode("ascii"))
        atomic_write(base.with_suffix(".cose"), result.full_payload)
        qr = make_qr(result.qr_payload)
        versions[name] = int(qr.version)
        if images:
            buf = io.BytesIO()
            qr.save(buf, kind="png", scale=6, border=4)
            atomic_write(base.with_suffix(".qr.png"), buf.getvalue())
    return versions


def _index(registry: Registry, code: str, when: dt.datetime, seed: bytes | None, label: str) -> int:
    """Random index from the registry; with a seed, a fixed one (stable test worlds)."""
    index = status_index(seed, label)
    return registry.allocate_status_index(code, at=when) if index is None else index


def _issue(
    home: Home, registry: Registry, catalog: Catalog, entry: AuthorityEntry, slug: str, serial: str, version: int,
    supersedes: str | None, holder: Holder, fields: dict[str, str], when: dt.datetime, seed: bytes | None,
) -> IssuedLicence:  # fmt: skip
    day = when.date()
    index = _index(registry, entry.code, when, seed, f"{slug}/{serial}/{version}")
    builder = (
        LicenceBuilder().licence_type(slug, catalog).serial(serial).version(version).holder(holder)
        .issuer(entry.authority).issued_on(day).validity(day, day + dt.timedelta(days=6 * 365))
        .fields(fields).status_index(index)
    )  # fmt: skip
    if supersedes:
        builder = builder.supersedes(supersedes)
    result = sign_licence(builder.build(), home.signer(entry), at=when, catalog=catalog)
    registry.add_issued(result, actor=ACTOR, at=when)
    return result
