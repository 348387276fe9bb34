"""Tests of the licence-type catalogue (elicense.catalog, specs/catalog/*.json)."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from elicense.catalog import (
    HOLDER_TYPES,
    MAX_FILE_BYTES,
    Catalog,
    FieldSpec,
    LicenceType,
    default_directory,
    mask,
    type_code_problem,
)
from elicense.errors import CatalogError, LicenceDataError

SPECS = Path(__file__).resolve().parents[1] / "specs" / "catalog"

SLUGS = {
    "business-licence": "营业执照",
    "food-business-licence": "食品经营许可证",
    "driving-licence": "中华人民共和国机动车驾驶证",
    "resident-id-card": "中华人民共和国居民身份证",
    "real-estate-title": "中华人民共和国不动产权证书",
    "construction-safety-licence": "建筑施工企业安全生产许可证",
}

# One complete, valid set of field values per shipped type (raw, as an issuer would send them).
SAMPLES: dict[str, dict[str, object]] = {
    "business-licence": {
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "张三",
        "registered_capital": "100.50",
        "capital_currency": "人民币",
        "establishment_date": "2019-03-15",
        "domicile": "山东省济南市历下区泉城路 1 号",
        "business_scope": ("软件开发；信息技术咨询服务。\r\n（依法须经批准的项目，经相关部门批准后方可开展经营活动）"),
    },
    "food-business-licence": {
        "legal_representative": "李小龙",
        "domicile": "浙江省杭州市西湖区文三路 100 号",
        "business_premises": "浙江省杭州市西湖区文三路 100 号一层",
        "main_business_format": "餐饮服务经营者（小型餐馆）",
        "business_items": "热食类食品制售；冷食类食品制售",
        "supervising_authority": "杭州市西湖区市场监督管理局",
        "complaint_hotline": "12315",
    },
    "driving-licence": {
        "sex": "男",
        "nationality": "中国",
        "address": "北京市东城区东长安街 14 号",
        "date_of_birth": dt.date(1990, 1, 1),
        "first_issue_date": "2010-07-20",
        "vehicle_classes": "C1",
    },
    "resident-id-card": {
        "sex": "女",
        "ethnicity": "维吾尔",
        "date_of_birth": "1990-01-01",
        "address": "新疆维吾尔自治区乌鲁木齐市天山区解放南路 1 号",
    },
    "real-estate-title": {
        "co_ownership": "单独所有",
        "location": "江苏省南京市鼓楼区中山北路 1 号 2 幢 301 室",
        "unit_number": "320106001001GB00001F00020301",
        "right_type": "国有建设用地使用权/房屋所有权",
        "right_nature": "出让/市场化商品房",
        "usage": "城镇住宅用地/住宅",
        "area": "共有宗地面积 3015.48㎡/房屋建筑面积 89.10㎡",
        "term_of_use": "国有建设用地使用权 2010年01月01日起2080年12月31日止",
    },
    "construction-safety-licence": {
        "principal": "王建国",
        "address": "北京市海淀区三里河路 9 号",
        "economic_type": "有限责任公司",
        "licensed_scope": "建筑施工",
    },
}

# What the QR carries of each sample, by the shipped policy (few fields: the QR stays small).
EXPECTED_QR: dict[str, dict[int, object]] = {
    "business-licence": {},
    "food-business-licence": {},
    "driving-licence": {6: "C1"},
    "resident-id-card": {},
    "real-estate-title": {3: "320106001001GB00001F00020301"},
    "construction-safety-licence": {4: "建筑施工"},
}

# A self-contained valid type file for the invalid-catalogue cases (independent of the
# shipped files, whose QR policy may change): field 1 is masked, 3 is an enum, 4 a date.
BASE_TYPE: dict[str, Any] = {
    "code": "11100000MB0143028R001",
    "slug": "business-licence",
    "name": {"zh": "营业执照", "en": "Business Licence"},
    "defining_authority": {"zh": "国家市场监督管理总局", "en": "SAMR"},
    "holder_types": ["001"],
    "holder_qr": {"name": "show", "code": "show"},
    "validity": {"long_term_allowed": True, "default_years": None},
    "fields": [
        {"key": "entity_type", "tag": 1, "name": {"zh": "类型", "en": "Type of entity"},
         "type": "string", "required": True, "max_length": 64, "qr": "omit"},
        {"key": "legal_representative", "tag": 2,
         "name": {"zh": "法定代表人", "en": "Legal representative"}, "type": "string",
         "required": True, "max_length": 64, "qr": "mask",
         "mask": {"keep_start": 1, "keep_end": 0}},
        {"key": "registered_capital", "tag": 3, "name": {"zh": "注册资本（万元）", "en": "Capital"},
         "type": "decimal", "required": False, "qr": "omit"},
        {"key": "capital_currency", "tag": 4, "name": {"zh": "币种", "en": "Currency"},
         "type": "enum", "required": False, "choices": ["人民币", "美元"], "qr": "omit"},
        {"key": "establishment_date", "tag": 5, "name": {"zh": "成立日期", "en": "Established"},
         "type": "date", "required": True, "qr": "show"},
    ],
    "code_provisional": False,
    "code_source": "test",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(SPECS)


def _base_type() -> dict[str, Any]:
    """A fresh copy of :data:`BASE_TYPE`."""
    doc: dict[str, Any] = json.loads(json.dumps(BASE_TYPE))
    return doc


def _write(directory: Path, doc: object, name: str = "business-licence.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- shipped catalogue


def test_shipped_catalogue_has_all_six_types(catalog: Catalog) -> None:
    assert len(catalog) == 6
    assert {lt.slug: lt.name_zh for lt in catalog} == SLUGS
    assert list(catalog) == sorted(catalog, key=lambda lt: lt.code)
    assert catalog.codes == tuple(sorted(lt.code for lt in catalog))


def test_default_catalogue_is_the_shipped_one_and_cached() -> None:
    assert Path(default_directory()).resolve() == SPECS
    first = Catalog.default()
    assert Catalog.default() is first
    assert {lt.slug for lt in first} == set(SLUGS)
    assert Catalog.load().codes == first.codes


def test_type_codes_are_well_formed(catalog: Catalog) -> None:
    from elicense.identifiers import USCC

    for lt in catalog:
        assert type_code_problem(lt.code) is None, lt.code
        # independent check of the defining authority's USCC by the identifiers module
        assert str(USCC.parse(lt.code[:18])) == lt.code[:18]
        # provisional codes use the 9xx placeholder range, and only they do
        assert lt.code_provisional == (lt.code[18] == "9"), lt.code
        assert lt.code_source


def test_known_type_codes(catalog: Catalog) -> None:
    assert catalog.get("business-licence").code == "11100000MB0143028R001"
    assert catalog.get("resident-id-card").code == "11100000000013127D001"
    assert catalog.get("real-estate-title").code == "11100000MB03271699001"
    assert catalog.get("construction-safety-licence").code.startswith("11100000000013338W")
    assert catalog.get("driving-licence").code.startswith("11100000000013127D")
    assert catalog.get("food-business-licence").code.startswith("11100000MB0143028R")


def test_holder_types_match_the_model(catalog: Catalog) -> None:
    from elicense.model import HolderType

    assert set(HOLDER_TYPES) == {h.value for h in HolderType}
    for lt in catalog:
        assert set(lt.holder_types) <= set(HOLDER_TYPES)
    assert catalog.get("business-licence").holder_types == ("001",)
    assert catalog.get("resident-id-card").holder_types == ("111",)
    people = ("resident-id-card", "driving-licence", "real-estate-title")
    for slug in people:
        lt = catalog.get(slug)
        assert (lt.holder_name_qr, lt.holder_code_qr) == ("mask", "mask"), slug


def test_qr_policy_is_small(catalog: Catalog) -> None:
    for lt in catalog:
        in_qr = [f for f in lt.fields if f.qr != "omit"]
        assert len(in_qr) <= 3, lt.slug
        tags = [f.tag for f in lt.fields]
        assert len(set(tags)) == len(tags)
        assert all(1 <= t <= 255 for t in tags)


def test_fields_are_the_printed_ones(catalog: Catalog) -> None:
    labels = {lt.slug: [f.name_zh for f in lt.fields] for lt in catalog}
    assert labels["business-licence"][:2] == ["类型", "法定代表人"]
    assert "成立日期" in labels["business-licence"]
    assert "经营范围" in labels["business-licence"]
    assert labels["resident-id-card"] == ["性别", "民族", "出生", "住址"]
    assert "准驾车型" in labels["driving-licence"]
    assert "初次领证日期" in labels["driving-licence"]
    assert "不动产单元号" in labels["real-estate-title"]
    assert "主体业态" in labels["food-business-licence"]
    assert "许可范围" in labels["construction-safety-licence"]
    # holder, number, issuer and validity belong to the licence model, not to fields
    for lt in catalog:
        names = {f.name_zh for f in lt.fields}
        model_labels = {"名称", "统一社会信用代码", "姓名", "公民身份号码", "登记机关", "有效期限"}
        assert not names & model_labels
    ethnicity = catalog.get("resident-id-card").field("ethnicity")
    assert ethnicity.choices is not None
    assert len(ethnicity.choices) == 57
    assert ethnicity.choices[:3] == ("汉", "蒙古", "回")


def test_lookup(catalog: Catalog) -> None:
    lt = catalog.get("business-licence")
    assert catalog.get(lt.code) is lt
    assert catalog.get(" 11100000mb0143028r001 ") is lt
    assert catalog.get("Business-Licence") is lt
    assert catalog.find("no-such-type") is None
    assert catalog.find(123) is None  # type: ignore[arg-type]
    assert lt.code in catalog
    assert "business-licence" in catalog
    assert "11100000MB0143028R999" not in catalog
    assert None not in catalog
    with pytest.raises(CatalogError, match="unknown licence type") as exc:
        catalog.get("11100000MB0143028R999")
    assert exc.value.message_zh is not None
    assert "6 types" in repr(catalog)


def test_field_lookup(catalog: Catalog) -> None:
    lt = catalog.get("driving-licence")
    assert lt.field("vehicle_classes").tag == 6
    assert lt.field_by_tag(6).key == "vehicle_classes"
    with pytest.raises(CatalogError, match="no field 'colour'"):
        lt.field("colour")
    with pytest.raises(CatalogError, match="tag 99"):
        lt.field_by_tag(99)
    with pytest.raises(CatalogError):
        lt.field_by_tag(True)  # a bool is not a tag


def test_round_trip_to_dict(catalog: Catalog) -> None:
    for lt in catalog:
        on_disk = json.loads((SPECS / f"{lt.slug}.json").read_text(encoding="utf-8"))
        on_disk.setdefault("code_provisional", False)
        produced = lt.to_dict()
        produced.setdefault("code_provisional", False)
        assert produced == on_disk, lt.slug
        assert LicenceType.from_dict(lt.to_dict()) == lt


def test_readme_tables_match_the_catalogue(catalog: Catalog) -> None:
    """specs/catalog/README.md is normative: its per-type tables must say what the files say."""
    readme = (SPECS / "README.md").read_text(encoding="utf-8")
    for lt in catalog:
        head = f"— `{lt.slug}` — `{lt.code}`"
        assert head in readme, head
        section = readme.split(head, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        rows = [
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and line[2:3].isdigit()
        ]
        documented = {(int(r[0]), r[1].strip("`"), r[2], r[4], r[5].split()[0]) for r in rows}
        actual = {(f.tag, f.key, f.name_zh, "yes" if f.required else "no", f.qr) for f in lt.fields}
        assert documented == actual, lt.slug
        assert ("(provisional)" in head + section.split("\n", 1)[0]) == lt.code_provisional


def test_schema_file_is_valid_json_and_skipped() -> None:
    schema = json.loads((SPECS / "catalog.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["fields"]["type"] == "array"
    assert "catalog.schema.json" not in {f"{lt.slug}.json" for lt in Catalog.load(SPECS)}


# --------------------------------------------------------------------------- invalid catalogues


def _mutate(path: str, value: Any) -> Any:
    """Return a function setting ``path`` (dotted, ints for list indexes) in the base type."""

    def apply(doc: dict[str, Any]) -> None:
        parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = doc
        for part in parts[:-1]:
            target = target[part]
        if value is _DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value

    return apply


_DELETE = object()

INVALID_CASES = [
    ("missing key", _mutate("fields", _DELETE), "fields: required key is missing"),
    ("unknown key", _mutate("colour", "red"), "unknown key 'colour'"),
    ("code length", _mutate("code", "11100000MB0143028R01"), "21 characters"),
    ("code check", _mutate("code", "11100000MB0143028Q001"), "GB 32100 check character"),
    ("org check", _mutate("code", "11100000MB0143027R001"), "organisation-code"),
    ("code alphabet", _mutate("code", "11100000MB0I43028R001"), "outside 0-9A-HJ-NPQRTUWXY"),
    ("sequence 000", _mutate("code", "11100000MB0143028R000"), "sequence number"),
    ("sequence letters", _mutate("code", "11100000MB0143028R0A1"), "sequence number"),
    ("code type", _mutate("code", 11100000), "code: must be a string, not a number"),
    ("code array", _mutate("code", ["1"]), "code: must be a string, not an array"),
    ("slug null", _mutate("slug", None), "slug: must be a string, not null"),
    ("key object", _mutate("fields.0.key", {}), "key: must be a string, not an object"),
    ("choices not list", _mutate("fields.3.choices", "美元"), "choices: must be a list"),
    ("choice not string", _mutate("fields.3.choices", ["美元", 1]), "choices[1]: must be a string"),
    ("slug pattern", _mutate("slug", "Business_Licence"), "slug must be lowercase"),
    ("name missing en", _mutate("name.en", _DELETE), "name.en: required key is missing"),
    ("name empty", _mutate("name.zh", "  "), "name.zh: must not be empty"),
    ("name padded", _mutate("name.zh", " 营业执照"), "leading or trailing whitespace"),
    ("authority not object", _mutate("defining_authority", "SAMR"), "must be a JSON object"),
    ("holder types empty", _mutate("holder_types", []), "holder_types must not be empty"),
    ("holder type unknown", _mutate("holder_types", ["414"]), "holder type '414'"),
    ("holder type duplicate", _mutate("holder_types", ["001", "001"]), "duplicates"),
    ("holder types not list", _mutate("holder_types", "001"), "holder_types: must be a list"),
    ("holder qr omit", _mutate("holder_qr.name", "omit"), "holder_qr.name: must be show or mask"),
    ("holder qr extra", _mutate("holder_qr.photo", "show"), "unknown key 'photo'"),
    ("default years 0", _mutate("validity.default_years", 0), "between 1 and 100"),
    ("default years str", _mutate("validity.default_years", "5"), "must be an integer"),
    ("long term not bool", _mutate("validity.long_term_allowed", 1), "must be true or false"),
    ("provisional not bool", _mutate("code_provisional", "no"), "must be true or false"),
    ("fields not list", _mutate("fields", {}), "fields: must be a list"),
    ("field not object", _mutate("fields.0", "entity_type"), "fields[0]: must be a JSON object"),
    ("field unknown key", _mutate("fields.0.hint", "x"), "fields[0].hint: unknown key"),
    ("field missing qr", _mutate("fields.0.qr", _DELETE), "fields[0].qr: required key"),
    ("duplicate key", _mutate("fields.1.key", "entity_type"), "duplicate key 'entity_type'"),
    ("duplicate tag", _mutate("fields.1.tag", 1), "fields[1].tag: duplicate tag 1"),
    ("tag zero", _mutate("fields.0.tag", 0), "tag must be an integer 1..255"),
    ("tag 256", _mutate("fields.0.tag", 256), "tag must be an integer 1..255"),
    ("tag bool", _mutate("fields.0.tag", True), "fields[0].tag: must be an integer"),
    ("tag string", _mutate("fields.0.tag", "1"), "fields[0].tag: must be an integer"),
    ("tag float", _mutate("fields.0.tag", 1.0), "fields[0].tag: must be an integer"),
    ("unknown type", _mutate("fields.0.type", "money"), "unknown field type 'money'"),
    ("required not bool", _mutate("fields.0.required", "yes"), "must be true or false"),
    ("string without max", _mutate("fields.0.max_length", _DELETE), "needs max_length"),
    ("max_length zero", _mutate("fields.0.max_length", 0), "between 1 and"),
    ("string too long max", _mutate("fields.0.max_length", 5000), "max_length must be 1..1024"),
    ("max_length on date", _mutate("fields.4.max_length", 10), "not allowed for a date field"),
    ("choices on string", _mutate("fields.0.choices", ["a"]), "only allowed for an enum field"),
    ("enum no choices", _mutate("fields.3.choices", _DELETE), "needs a non-empty choices list"),
    ("enum empty choices", _mutate("fields.3.choices", []), "needs a non-empty choices list"),
    ("enum duplicate", _mutate("fields.3.choices", ["美元", "美元"]), "choices contain duplicates"),
    ("enum padded", _mutate("fields.3.choices", ["美元 "]), "leading or trailing whitespace"),
    ("enum not NFC", _mutate("fields.3.choices", ["e\u0301"]), "NFC"),
    ("qr invalid", _mutate("fields.0.qr", "hide"), "must be show, mask or omit"),
    ("mask without qr mask", _mutate("fields.0.mask", {"keep_start": 1, "keep_end": 0}),
     "only allowed when qr is mask"),
    ("mask keep negative", _mutate("fields.1.mask.keep_start", -1), "between 0 and 32"),
    ("mask unknown key", _mutate("fields.1.mask.char", "#"), "unknown key 'char'"),
    ("masked date", _mutate("fields.4.qr", "mask"), "date field cannot be masked"),
    ("reserved key", _mutate("fields.0.key", "holder_name"), "licence-model attribute"),
    ("reserved number", _mutate("fields.0.key", "number"), "licence-model attribute"),
    ("bad key", _mutate("fields.0.key", "Entity-Type"), "must match [a-z][a-z0-9_]*"),
    ("key too long", _mutate("fields.0.key", "k" * 33), "longer than 32"),
    ("control char", _mutate("fields.0.name.zh", "类\u0007型"), "control character"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in INVALID_CASES],
)
def test_invalid_type_file_is_rejected(tmp_path: Path, mutation: Any, expected: str) -> None:
    doc = _base_type()
    mutation(doc)
    _write(tmp_path, doc)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(tmp_path)
    message = exc.value.message
    assert message.startswith("business-licence.json: "), message
    assert expected in message, message
    assert exc.value.message_zh
    assert exc.value.details.get("file") == "business-licence.json"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b'{"code": ', "invalid JSON", id="truncated"),
        pytest.param(b"[]", "must be a JSON object", id="array"),
        pytest.param(b'{"code": "a", "code": "b"}', "duplicate key 'code'", id="duplicate-key"),
        pytest.param(b'{"x": NaN}', "NaN", id="nan"),
        pytest.param(b'{"x": "\xff"}', "not UTF-8", id="not-utf8"),
        pytest.param(b"\xef\xbb\xbf{}", "invalid JSON", id="bom"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "invalid JSON", id="deep-nesting"),
    ],
)
def test_unparseable_file_is_rejected(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "business-licence.json").write_bytes(content)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(tmp_path)
    assert exc.value.message.startswith("business-licence.json: ")
    assert expected in exc.value.message


def test_file_over_256_kib_is_rejected(tmp_path: Path) -> None:
    doc = _base_type()
    doc["code_source"] = "x" * 1000
    text = json.dumps(doc)
    padded = text[:-1] + " " * (MAX_FILE_BYTES + 10 - len(text)) + "}"
    (tmp_path / "business-licence.json").write_text(padded, encoding="utf-8")
    with pytest.raises(CatalogError, match=r"business-licence\.json: .*larger than 256 KiB"):
        Catalog.load(tmp_path)
    # exactly at the limit is fine
    (tmp_path / "business-licence.json").write_text(
        text[:-1] + " " * (MAX_FILE_BYTES - len(text)) + "}", encoding="utf-8"
    )
    assert len(Catalog.load(tmp_path)) == 1


def test_file_name_must_be_the_slug(tmp_path: Path) -> None:
    _write(tmp_path, _base_type(), name="licence.json")
    with pytest.raises(CatalogError, match=r"licence\.json: file name must be the slug"):
        Catalog.load(tmp_path)


def test_duplicate_code_across_files(tmp_path: Path) -> None:
    doc = _base_type()
    _write(tmp_path, doc)
    doc["slug"] = "business-licence-copy"
    _write(tmp_path, doc, name="business-licence-copy.json")
    with pytest.raises(CatalogError, match="type code 11100000MB0143028R001 is already defined in"):
        Catalog.load(tmp_path)


def test_empty_missing_and_odd_directories(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no licence type files"):
        Catalog.load(tmp_path)
    with pytest.raises(CatalogError, match="cannot read catalogue directory"):
        Catalog.load(tmp_path / "nope")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(CatalogError, match=r"dir\.json: not a regular file"):
        Catalog.load(tmp_path)


def test_schema_and_other_files_are_skipped(tmp_path: Path) -> None:
    _write(tmp_path, _base_type())
    (tmp_path / "catalog.schema.json").write_text("not json", encoding="utf-8")
    (tmp_path / "README.md").write_text("# notes", encoding="utf-8")
    catalog = Catalog.load(str(tmp_path))
    assert [lt.slug for lt in catalog] == ["business-licence"]
    assert catalog.directory == str(tmp_path)


def test_in_memory_construction_checks_invariants(catalog: Catalog) -> None:
    bl = catalog.get("business-licence")
    with pytest.raises(CatalogError, match="defined twice"):
        Catalog([bl, bl])
    other = LicenceType.from_dict({**bl.to_dict(), "code": "11100000MB0143028R002"})
    with pytest.raises(CatalogError, match="slug 'business-licence' is defined twice"):
        Catalog([bl, other])
    with pytest.raises(CatalogError, match="duplicate field key 'entity_type'"):
        LicenceType(**{**_type_kwargs(bl), "fields": (bl.fields[0], bl.fields[0])})
    renumbered = FieldSpec.from_dict({**bl.fields[1].to_dict(), "tag": bl.fields[0].tag})
    with pytest.raises(CatalogError, match="duplicate field tag 1"):
        LicenceType(**{**_type_kwargs(bl), "fields": (bl.fields[0], renumbered)})
    with pytest.raises(CatalogError, match="defining authority's USCC"):
        LicenceType(**{**_type_kwargs(bl), "code": "X" * 21})
    with pytest.raises(CatalogError, match="slug must be"):
        LicenceType(**{**_type_kwargs(bl), "slug": "-bad"})
    with pytest.raises(CatalogError, match="needs max_length"):
        FieldSpec(key="note", tag=9, name_zh="备注", name_en="Note", type="string")
    with pytest.raises(CatalogError, match="tag must be"):
        FieldSpec(key="day", tag=True, name_zh="日", name_en="Day", type="date")


def _type_kwargs(lt: LicenceType) -> dict[str, Any]:
    names = (
        "code", "slug", "name_zh", "name_en", "defining_authority_zh", "defining_authority_en",
        "holder_types", "holder_name_qr", "holder_code_qr", "long_term_allowed",
        "default_years", "fields", "code_provisional", "code_source",
    )  # fmt: skip
    return {n: getattr(lt, n) for n in names}


# --------------------------------------------------------------------------- normalisation


def test_samples_validate_for_every_type(catalog: Catalog) -> None:
    assert set(SAMPLES) == set(SLUGS)
    for slug, values in SAMPLES.items():
        lt = catalog.get(slug)
        out = lt.validate_fields(values)
        order = [f.key for f in lt.fields if f.key in out]
        assert list(out) == order, slug
        assert set(out) == {k for k, v in values.items() if v is not None}
        # normalising twice changes nothing (idempotent, so verifiers can re-check)
        assert lt.validate_fields(out) == out


def test_business_licence_normalisation(catalog: Catalog) -> None:
    out = catalog.get("business-licence").validate_fields(SAMPLES["business-licence"])
    assert out["establishment_date"] == dt.date(2019, 3, 15)
    assert out["registered_capital"] == "100.50"
    assert out["business_scope"] == (
        "软件开发；信息技术咨询服务。\n（依法须经批准的项目，经相关部门批准后方可开展经营活动）"
    )
    assert out["legal_representative"] == "张三"


def test_string_fields(catalog: Catalog) -> None:
    spec = catalog.get("business-licence").field("legal_representative")
    assert spec.normalize("\u3000张三 \n") == "张三"  # ideographic space stripped
    assert spec.normalize("Jose\u0301") == "José"  # NFC
    assert spec.normalize("欧阳·娜娜") == "欧阳·娜娜"
    too_long = "王" * 65
    with pytest.raises(LicenceDataError) as exc:
        spec.normalize(too_long)
    assert exc.value.details == {"field": "legal_representative", "reason": "too_long",
                                 "max_length": 64}  # fmt: skip
    assert "法定代表人" in (exc.value.message_zh or "")
    for bad, reason in [
        ("张\n三", "control_character"),
        ("张\x00三", "control_character"),
        ("张\u2028三", "control_character"),
        ("\ud800", "control_character"),
        ("   ", "empty"),
        (42, "type"),
        (None, "missing"),
    ]:
        with pytest.raises(LicenceDataError) as exc:
            spec.normalize(bad)
        assert exc.value.details["reason"] == reason, bad
        assert exc.value.details["field"] == "legal_representative"


def test_text_fields_keep_lines(catalog: Catalog) -> None:
    spec = catalog.get("business-licence").field("business_scope")
    raw = " 一般项目：软件开发\r\n许可项目：\t无\r"
    assert spec.normalize(raw) == "一般项目：软件开发\n许可项目：\t无"
    with pytest.raises(LicenceDataError, match="control or format"):
        spec.normalize("a\x1bb")


def test_date_fields(catalog: Catalog) -> None:
    spec = catalog.get("driving-licence").field("first_issue_date")
    assert spec.normalize(dt.date(2010, 7, 20)) == dt.date(2010, 7, 20)
    assert spec.normalize(" 2010-07-20 ") == dt.date(2010, 7, 20)
    for bad, reason in [
        (dt.datetime(2010, 7, 20, 8, 0), "type"),
        ("2010/07/20", "date_format"),
        ("20100720", "date_format"),
        ("2010-7-20", "date_format"),
        ("２０１０-07-20", "date_format"),
        ("2021-02-29", "bad_date"),
        (20100720, "type"),
    ]:
        with pytest.raises(LicenceDataError) as exc:
            spec.normalize(bad)
        assert exc.value.details["reason"] == reason, bad


def test_integer_fields() -> None:
    spec = FieldSpec(key="floors", tag=1, name_zh="总层数", name_en="Floors", type="integer",
                     max_length=3)  # fmt: skip
    assert spec.normalize(12) == 12
    assert spec.normalize(" 012 ") == 12
    assert spec.normalize("0") == 0
    for bad, reason in [
        (True, "type"),
        (1.0, "type"),
        ("-1", "not_an_integer"),
        ("1 2", "not_an_integer"),
        ("١٢", "not_an_integer"),  # Arabic-Indic digits are digits to str.isdigit
        ("1000", "too_many_digits"),
        (1000, "too_many_digits"),
    ]:
        with pytest.raises(LicenceDataError) as exc:
            spec.normalize(bad)
        assert exc.value.details["reason"] == reason, bad
    unbounded = FieldSpec(key="n", tag=1, name_zh="数", name_en="N", type="integer")
    assert unbounded.normalize("9" * 18) == 10**18 - 1
    with pytest.raises(LicenceDataError, match="more than 18 digits"):
        unbounded.normalize("1" + "0" * 18)


def test_decimal_fields(catalog: Catalog) -> None:
    spec = catalog.get("business-licence").field("registered_capital")
    good = {
        "100.50": "100.50",
        " 0100.5 ": "100.5",
        ".5": "0.5",
        "100.": "100",
        "+7": "7",
        "-0.00": "0.00",
        "123456789012345678": "123456789012345678",
        Decimal("100.50"): "100.50",
        Decimal("1E+3"): "1000",
        250: "250",
    }
    for raw, expected in good.items():
        assert spec.normalize(raw) == expected, raw
    for bad, reason in [
        (100.5, "type"),
        (True, "type"),
        ("1e3", "not_a_decimal"),
        ("NaN", "not_a_decimal"),
        ("1,000", "not_a_decimal"),
        ("壹佰万元整", "not_a_decimal"),
        (Decimal("NaN"), "not_finite"),
        (Decimal("Infinity"), "not_finite"),
        ("1234567890123456789", "too_many_digits"),
        ("12345678901234567.89", "too_many_digits"),
        (Decimal("1E+30"), "too_many_digits"),
        (Decimal("1E-30"), "too_many_digits"),
    ]:
        with pytest.raises(LicenceDataError) as exc:
            spec.normalize(bad)
        assert exc.value.details["reason"] == reason, bad
    with pytest.raises(LicenceDataError, match="floats are inexact"):
        spec.normalize(0.1)


def test_enum_fields(catalog: Catalog) -> None:
    sex = catalog.get("resident-id-card").field("sex")
    assert sex.normalize(" 女 ") == "女"
    ethnicity = catalog.get("resident-id-card").field("ethnicity")
    assert ethnicity.normalize("柯尔克孜") == "柯尔克孜"
    assert ethnicity.normalize("穿青人") == "穿青人"
    with pytest.raises(LicenceDataError) as exc:
        ethnicity.normalize("汉族")
    assert exc.value.details["reason"] == "not_a_choice"
    assert "汉" in exc.value.details["choices"]
    assert "汉族" in (exc.value.message_zh or "")
    with pytest.raises(LicenceDataError, match="not one of the allowed values"):
        sex.normalize("M")


def test_identifier_fields() -> None:
    from elicense.identifiers import ResidentId

    uscc = FieldSpec(key="issuer_uscc", tag=1, name_zh="代码", name_en="Code", type="uscc")
    assert uscc.normalize(" 11430000006122244l ") == "11430000006122244L"
    assert uscc.normalize("１１４３００００００６１２２２４４Ｌ") == "11430000006122244L"
    with pytest.raises(LicenceDataError) as exc:
        uscc.normalize("11430000006122244M")
    assert exc.value.details["reason"] == "identifier"
    assert exc.value.details["part"] == "check_char"
    assert "统一社会信用代码" in (exc.value.message_zh or "")

    rid = FieldSpec(key="agent_id", tag=2, name_zh="代理人身份号码", name_en="Agent id",
                    type="resident_id", qr="mask")  # fmt: skip
    number = str(ResidentId.build("370102", dt.date(1990, 1, 1), 123))
    assert rid.normalize(number) == number
    assert rid.normalize("11010519491231002x") == "11010519491231002X"
    assert rid.qr_value(rid.normalize(number)) == ResidentId.parse(number).masked()
    with pytest.raises(LicenceDataError) as exc:
        rid.normalize("110105194912310021")
    assert exc.value.details["part"] == "check_char"
    with pytest.raises(LicenceDataError) as exc:
        rid.normalize(110105194912310021)
    assert exc.value.details["reason"] == "type"

    area = FieldSpec(key="region", tag=3, name_zh="区划", name_en="Region", type="area_code")
    assert area.normalize("370102") == "370102"
    with pytest.raises(LicenceDataError) as exc:
        area.normalize("999999")
    assert exc.value.details["reason"] == "identifier"


# --------------------------------------------------------------------------- validate_fields


def test_validate_fields_collects_every_problem(catalog: Catalog) -> None:
    lt = catalog.get("business-licence")
    values = dict(SAMPLES["business-licence"])
    del values["domicile"]  # missing required
    values["entity_type"] = ""  # blank required = missing
    values["establishment_date"] = "2019/03/15"  # bad date
    values["legal_representative"] = "张" * 100  # too long
    values["capital_currency"] = "比特币"  # not a choice
    values["colour"] = "red"  # unknown key
    values["registered_capital"] = None  # optional and absent: fine
    with pytest.raises(LicenceDataError) as exc:
        lt.validate_fields(values)
    problems = exc.value.details["problems"]
    assert [(p["field"], p["reason"]) for p in problems] == [
        ("entity_type", "missing"),
        ("legal_representative", "too_long"),
        ("capital_currency", "not_a_choice"),
        ("establishment_date", "date_format"),
        ("domicile", "missing"),
        ("colour", "unknown_field"),
    ]
    for p in problems:
        assert set(p) == {"field", "message", "message_zh", "reason"}
        assert p["message"]
        assert p["message_zh"]
    assert exc.value.message.startswith("6 problems in the fields of Business Licence")
    assert "住所：必填字段缺失" in (exc.value.message_zh or "")
    assert exc.value.details["type_code"] == lt.code


def test_validate_fields_optional_and_types(catalog: Catalog) -> None:
    lt = catalog.get("food-business-licence")
    values = {k: v for k, v in SAMPLES["food-business-licence"].items() if k != "complaint_hotline"}
    values["supervisors"] = "  "
    out = lt.validate_fields(values)
    assert "supervisors" not in out
    assert "complaint_hotline" not in out
    with pytest.raises(LicenceDataError, match="must be a mapping"):
        lt.validate_fields([("domicile", "x")])  # type: ignore[arg-type]
    with pytest.raises(LicenceDataError) as exc:
        lt.validate_fields({**values, 7: "x"})  # type: ignore[dict-item]
    assert exc.value.details["problems"][0]["reason"] == "unknown_field"


# --------------------------------------------------------------------------- QR


def test_qr_fields(catalog: Catalog) -> None:
    for slug, expected in EXPECTED_QR.items():
        lt = catalog.get(slug)
        got = lt.qr_fields(SAMPLES[slug])
        assert got == expected, slug
        omitted = {f.tag for f in lt.fields if f.qr == "omit"}
        assert not omitted & set(got)


def test_qr_fields_leave_out_absent_optional_and_validate(catalog: Catalog) -> None:
    lt = catalog.get("real-estate-title")
    values = dict(SAMPLES["real-estate-title"])
    assert lt.qr_fields(values) == EXPECTED_QR["real-estate-title"]
    values["unit_number"] = "x" * 29
    with pytest.raises(LicenceDataError, match="unit_number"):
        lt.qr_fields(values)


def test_mask_examples() -> None:
    assert mask("370102199001011234") == "3****************4"
    assert mask("370102199001011234", 6, 4) == "370102********1234"
    assert mask("张三", keep_start=1, keep_end=0) == "张*"
    assert mask("张三") == "张*"  # too short for 1 + 1: keep the first character only
    assert mask("欧阳娜娜", 1, 0) == "欧***"
    assert mask("王小明", 1, 1) == "王*明"
    assert mask("张") == "*"
    assert mask("") == ""
    assert mask("abc", 0, 0) == "***"
    assert mask("abc", 0, 5) == "***"
    assert mask("11430000006122244L", 2, 2, char="#") == "11##############4L"
    with pytest.raises(ValueError, match="negative"):
        mask("abc", -1)
    with pytest.raises(ValueError, match="one character"):
        mask("abc", char="**")


def test_qr_fields_mask_and_show() -> None:
    lt = LicenceType.from_dict(_base_type())
    spec = lt.field("legal_representative")
    assert (spec.qr, spec.mask_keep_start, spec.mask_keep_end) == ("mask", 1, 0)
    assert spec.qr_value("司马相如") == "司***"
    values = {
        "entity_type": "有限责任公司",
        "legal_representative": "张三",
        "registered_capital": "10",
        "establishment_date": "2019-03-15",
    }
    assert lt.qr_fields(values) == {2: "张*", 5: dt.date(2019, 3, 15)}
    assert lt.qr_fields({**values, "legal_representative": "欧阳娜娜"})[2] == "欧***"


def test_shipped_qr_values(catalog: Catalog) -> None:
    shown = catalog.get("driving-licence").field("vehicle_classes")
    assert shown.qr_value("A2E") == "A2E"
    for lt in catalog:
        for spec in lt.fields:
            if spec.qr == "mask":
                assert spec.type in {"string", "text", "uscc", "resident_id", "area_code"}


def test_packaged_catalogue_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import elicense.catalog as catalog_module

    package = tmp_path / "site-packages" / "elicense"
    packaged = package / "_specs" / "catalog"
    packaged.mkdir(parents=True)
    monkeypatch.setattr(catalog_module, "__file__", str(package / "catalog.py"))
    assert Path(default_directory()) == packaged.resolve()
    _write(packaged, _base_type())
    assert [lt.slug for lt in Catalog.load()] == ["business-licence"]
    monkeypatch.setattr(catalog_module, "__file__", str(tmp_path / "src" / "elicense" / "x.py"))
    assert Path(default_directory()) == (tmp_path / "specs" / "catalog").resolve()


def test_catalogue_directory_layout_is_packaged() -> None:
    # the wheel maps specs/ (catalogue, XSD) to elicense/_specs (pyproject force-include)
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text("utf-8")
    assert '"specs" = "elicense/_specs"' in pyproject
    assert os.path.isdir(default_directory())
