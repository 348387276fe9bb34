"""Identifiers: licence id (GB/T 36904), USCC (GB 32100), resident id (GB 11643), area codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elicense.errors import IdentifierError
from elicense.identifiers import (
    NATIONAL_AREA_CODE,
    USCC,
    AreaCode,
    LicenceId,
    ResidentId,
    area_name,
    identify,
    is_known_area,
    mod11_2_check_char,
    mod37_36_check_char,
    mod37_36_state,
)

# Real identifiers (DESIGN.md section 2).
REAL_IDS = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
]
# Published as an API example; its check character should be D, not M.
DRIFTED_ID = "1.2.156.3005.2.11100000000013661B006.113700000045046442.209FA4E88F9E4C878F3E9BED2CE7EA49.001.M"
REAL_USCCS = [
    "11100000000013338W",  # defining ministry (central level: area 100000)
    "11430000006122244L",
    "11330105002500287C",
    "11100000MB03271699",  # first 18 characters of type code 11100000MB03271699022
    "11100000000013661B",
    "113700000045046442",
]
SAMPLE_RESIDENT = "11010519491231002X"

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _areas() -> dict[str, str]:
    text = resources.files("elicense.data").joinpath("areas.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["code", "name"]
    return dict(rows[1:])


AREAS = _areas()
AREA_CODES = sorted(AREAS)


def _raises(part: str, fn: object, *args: object, **kwargs: object) -> IdentifierError:
    assert callable(fn)
    with pytest.raises(IdentifierError) as info:
        fn(*args, **kwargs)
    assert info.value.part == part, (info.value.part, str(info.value))
    assert info.value.message_zh
    return info.value


# --------------------------------------------------------------------------- check characters


def test_mod37_36_on_real_ids() -> None:
    for text in REAL_IDS:
        body, check = text.rsplit(".", 1)
        data = "".join(body.split(".")[5:])
        assert mod37_36_check_char(data) == check


def test_mod37_36_drifted_example_computes_d() -> None:
    body = DRIFTED_ID.rsplit(".", 1)[0]
    assert mod37_36_check_char("".join(body.split(".")[5:])) == "D"


def test_mod11_2_known_values() -> None:
    assert mod11_2_check_char(SAMPLE_RESIDENT[:17]) == "X"
    # ORCID uses ISO 7064 MOD 11-2 too: 0000-0002-1825-0097.
    assert mod11_2_check_char("000000021825009") == "7"
    # ISO 7064 example: 0794 -> 07940.
    assert mod11_2_check_char("0794") == "0"


@pytest.mark.parametrize("fn", [mod37_36_check_char, mod11_2_check_char])
def test_check_char_helpers_reject_bad_data(fn: object) -> None:
    _raises("charset", fn, "12a")
    _raises("charset", fn, "1 2")


@given(st.text(alphabet=ALNUM36, min_size=1, max_size=60), st.data())
def test_mod37_36_detects_every_single_substitution(data: str, draw: st.DataObject) -> None:
    i = draw.draw(st.integers(0, len(data) - 1))
    other = draw.draw(st.sampled_from(ALNUM36).filter(lambda c: c != data[i]))
    changed = data[:i] + other + data[i + 1 :]
    assert mod37_36_check_char(changed) != mod37_36_check_char(data)


@given(st.text(alphabet=ALNUM36, max_size=40), st.text(alphabet=ALNUM36, max_size=40))
def test_mod37_36_from_a_prefix_state_is_the_check_char_of_the_whole(prefix: str, rest: str) -> None:
    """Bulk issuing runs a licence id's type and issuer codes through once and goes on from their state."""
    assert mod37_36_check_char(rest, mod37_36_state(prefix)) == mod37_36_check_char(prefix + rest)


def test_mod37_36_state_refuses_bad_data_and_an_unknown_state() -> None:
    _raises("charset", mod37_36_state, "12a")
    _raises("charset", mod37_36_state, "12", 37)


# --------------------------------------------------------------------------- licence id


@pytest.mark.parametrize("text", REAL_IDS)
def test_real_licence_ids_validate(text: str) -> None:
    lid = LicenceId.parse(text)
    assert str(lid) == text
    assert lid.check_ok
    assert lid.expected_check_char == lid.check_char
    USCC.parse(lid.type_code[:18])
    if len(lid.issuer_code) == 18:
        USCC.parse(lid.issuer_code)
    else:
        assert lid.issuer_is_area_code
        assert AreaCode.parse(lid.issuer_code).name == "合肥市"


def test_real_licence_id_parts() -> None:
    lid = LicenceId.parse(REAL_IDS[1])
    assert lid.type_code == "11100000000013338W009"
    assert lid.issuer_code == "11330105002500287C"
    assert lid.serial == "2025052201"
    assert lid.version == 2
    assert lid.check_char == "0"
    assert LicenceId.PREFIX == "1.2.156.3005.2"


def test_drifted_check_char_is_reported_with_expected_value() -> None:
    err = _raises("check_char", LicenceId.parse, DRIFTED_ID)
    assert err.details["expected"] == "D"
    assert err.details["actual"] == "M"
    assert err.details["kind"] == "licence_id"
    assert "'D'" in err.message
    assert err.message_zh is not None
    assert "D" in err.message_zh


def test_non_strict_parse_reports_instead_of_failing() -> None:
    lid = LicenceId.parse(DRIFTED_ID, strict=False)
    assert not lid.check_ok
    assert lid.expected_check_char == "D"
    assert lid.check_char == "M"
    assert str(lid) == DRIFTED_ID  # nothing silently fixed
    fixed = LicenceId.build(lid.type_code, lid.issuer_code, lid.serial, lid.version)
    assert fixed.check_char == "D"
    assert str(fixed) == DRIFTED_ID[:-1] + "D"


def test_non_strict_parse_still_validates_structure() -> None:
    _raises("type_code", LicenceId.parse, REAL_IDS[0].replace("13338W", "13338X"), strict=False)
    _raises("version", LicenceId.parse, REAL_IDS[0].replace(".001.", ".000."), strict=False)
    _raises("check_char", LicenceId.parse, REAL_IDS[0][:-1] + "UU", strict=False)


def test_build_computes_check_char_and_with_version() -> None:
    lid = LicenceId.build("11100000000013338W011", "11430000006122244L", "20230000403")
    assert str(lid) == REAL_IDS[0]
    v2 = lid.with_version(2)
    assert v2.version == 2
    assert v2.check_ok
    assert str(v2).split(".")[-2] == "002"
    assert LicenceId.parse(str(v2)) == v2
    assert v2.with_version(1) == lid


def test_build_normalises_case() -> None:
    lid = LicenceId.build("11100000000013338w011", "11430000006122244l", "abc1")
    assert lid.type_code == "11100000000013338W011"
    assert lid.serial == "ABC1"
    assert lid.check_ok


def test_licence_id_case_and_whitespace() -> None:
    text = REAL_IDS[2]
    assert LicenceId.parse(f"  {text.lower()}\n") == LicenceId.parse(text)
    err = _raises("charset", LicenceId.parse, text.replace(".001.", ". 001."))
    assert err.details["position"] == text.index(".001.") + 2
    _raises("charset", LicenceId.parse, text.replace("340100", "３40100"))
    _raises("charset", LicenceId.parse, text + "\u3000")
    _raises("charset", LicenceId.parse, text.replace(".001.", ".001-"))
    _raises("length", LicenceId.parse, "   ")
    _raises("charset", LicenceId.parse, None)


LID = REAL_IDS[0]


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("1.2.156.3005.3." + LID[15:], "prefix"),
        (LID[15:], "prefix"),
        (LID.rsplit(".", 1)[0], "length"),
        (LID + ".U", "length"),
        (LID.replace("W011", "W01"), "type_code"),
        (LID.replace("W011", "W0A1"), "type_code"),
        (LID.replace("13338W011", "13338X011"), "type_code"),
        (LID.replace("13338W011", "13338V011"), "type_code"),
        (LID.replace("6122244L", "6122244M"), "issuer_code"),
        (LID.replace("11430000006122244L", "1143000000612224"), "issuer_code"),
        (LID.replace("11430000006122244L", "990000"), "issuer_code"),
        (LID.replace("20230000403", ""), "serial"),
        (LID.replace("20230000403", "1" * 33), "serial"),
        (LID.replace(".001.", ".000."), "version"),
        (LID.replace(".001.", ".01."), "version"),
        (LID.replace(".001.", ".0001."), "version"),
        (LID.replace(".001.", ".00A."), "version"),
        (LID[:-1] + "V", "check_char"),
        (LID[:-1], "check_char"),
        (LID[:-1] + "UU", "check_char"),
    ],
)
def test_licence_id_wrong_part(text: str, part: str) -> None:
    err = _raises(part, LicenceId.parse, text)
    assert err.details["kind"] == "licence_id"


def test_wrapped_uscc_errors_name_the_inner_part() -> None:
    err = _raises("type_code", LicenceId.parse, LID.replace("13338W011", "13338X011"))
    assert err.details["cause_part"] == "check_char"
    assert err.details["expected"] == "W"
    err = _raises("issuer_code", LicenceId.parse, LID.replace("11430000006122244L", "990000"))
    assert err.details["cause_part"] == "area_code"


def test_licence_id_accepts_serial_of_32_chars_and_area_issuer() -> None:
    lid = LicenceId.build("11100000000013338W011", "370100", "Z" * 32, 999)
    assert LicenceId.parse(str(lid)) == lid
    assert str(lid).endswith(".999." + lid.check_char)


@pytest.mark.parametrize("version", [0, 1000, -1, True, "1"])
def test_build_rejects_bad_version(version: object) -> None:
    _raises("version", LicenceId.build, "11100000000013338W011", "370100", "1", version)


def test_licence_id_is_frozen_and_hashable() -> None:
    lid = LicenceId.parse(LID)
    with pytest.raises(AttributeError):
        lid.version = 2  # type: ignore[misc]
    assert {lid: 1}[LicenceId.parse(LID.lower())] == 1


# --------------------------------------------------------------------------- generators

_REGISTRATIONS = [
    "11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49",
    "51", "52", "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92",
    "93", "A1", "A9", "N1", "N2", "N3", "N9", "Y1",
]  # fmt: skip

usccs = st.builds(
    USCC.build,
    st.sampled_from(_REGISTRATIONS),
    st.sampled_from([*AREA_CODES, NATIONAL_AREA_CODE]),
    st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8),
)
type_codes = st.builds(lambda u, n: f"{u}{n:03d}", usccs, st.integers(min_value=0, max_value=999))
issuer_codes = st.one_of(usccs.map(str), st.sampled_from(AREA_CODES))
serials = st.text(alphabet=ALNUM36, min_size=1, max_size=32)
versions = st.integers(min_value=1, max_value=999)
resident_ids = st.builds(
    ResidentId.build,
    st.sampled_from(AREA_CODES),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.integers(min_value=0, max_value=999),
)


@settings(max_examples=300)
@given(type_codes, issuer_codes, serials, versions)
def test_licence_id_round_trip(type_code: str, issuer: str, serial: str, version: int) -> None:
    lid = LicenceId.build(type_code, issuer, serial, version)
    text = str(lid)
    assert LicenceId.parse(text) == lid
    assert LicenceId.parse(text.lower()) == lid
    assert identify(text) == ("licence_id", lid)
    assert lid.check_ok


@given(type_codes, issuer_codes, serials, versions, st.data())
def test_licence_id_single_substitution_is_caught(
    type_code: str, issuer: str, serial: str, version: int, data: st.DataObject
) -> None:
    text = str(LicenceId.build(type_code, issuer, serial, version))
    start = len(LicenceId.PREFIX) + 1
    i = data.draw(st.integers(start, len(text) - 1).filter(lambda k: text[k] != "."))
    other = data.draw(st.sampled_from(ALNUM36).filter(lambda c: c != text[i]))
    with pytest.raises(IdentifierError):
        LicenceId.parse(text[:i] + other + text[i + 1 :])


@given(usccs)
def test_uscc_round_trip(uscc: USCC) -> None:
    assert USCC.parse(str(uscc)) == uscc
    assert USCC.parse(f" {str(uscc).lower()} ") == uscc
    kind, value = identify(str(uscc))
    # An all-digit USCC may by chance also be a valid resident id number.
    assert value == uscc or (kind == "resident_id" and str(value) == str(uscc))


@given(resident_ids)
def test_resident_id_round_trip(rid: ResidentId) -> None:
    assert ResidentId.parse(str(rid)) == rid
    assert ResidentId.parse(str(rid).lower()) == rid
    assert identify(str(rid)) == ("resident_id", rid)


# --------------------------------------------------------------------------- USCC


@pytest.mark.parametrize("code", REAL_USCCS)
def test_real_usccs_validate(code: str) -> None:
    assert str(USCC.parse(code)) == code


def test_uscc_properties() -> None:
    u = USCC.parse("11330105002500287C")
    assert u.registration_authority == "1"
    assert u.category == "1"
    assert u.area_code == "330105"
    assert area_name(u.area_code) == "拱墅区"
    assert u.org_code == "002500287"
    assert u.check_char == "C"
    assert USCC.parse(REAL_USCCS[0]).area_code == NATIONAL_AREA_CODE


def test_uscc_build() -> None:
    u = USCC.build("91", "370100", "MA3C0000")
    assert len(str(u)) == 18
    assert u.area_code == "370100"
    assert u.org_code[:8] == "MA3C0000"
    assert USCC.build("11", "100000", "00001333") == USCC.parse(REAL_USCCS[0])
    _raises("registration_authority", USCC.build, "9", "370100", "MA3C0000")
    _raises("registration_authority", USCC.build, "94", "370100", "MA3C0000")
    _raises("area_code", USCC.build, "91", "990100", "MA3C0000")
    _raises("area_code", USCC.build, "91", "37010", "MA3C0000")
    _raises("org_code", USCC.build, "91", "370100", "MA3C000")
    _raises("charset", USCC.build, "91", "370100", "MA3C000I")


def _with(value: str, i: int, ch: str) -> str:
    return value[:i] + ch + value[i + 1 :]


GOOD_USCC = "11430000006122244L"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        (GOOD_USCC[:-1], "length"),
        (GOOD_USCC + "0", "length"),
        (_with(GOOD_USCC, 10, "I"), "charset"),
        (_with(GOOD_USCC, 10, "O"), "charset"),
        (_with(GOOD_USCC, 10, "S"), "charset"),
        (_with(GOOD_USCC, 10, "V"), "charset"),
        (_with(GOOD_USCC, 10, "Z"), "charset"),
        (_with(GOOD_USCC, 10, " "), "charset"),
        (_with(GOOD_USCC, 10, "６"), "charset"),
        (_with(GOOD_USCC, 0, "B"), "registration_authority"),
        (_with(GOOD_USCC, 0, "0"), "registration_authority"),
        (_with(GOOD_USCC, 1, "4"), "registration_authority"),
        ("Y2" + GOOD_USCC[2:], "registration_authority"),
        ("99" + GOOD_USCC[2:], "registration_authority"),
        (_with(GOOD_USCC, 2, "9"), "area_code"),
        (_with(GOOD_USCC, 2, "0"), "area_code"),
        (_with(GOOD_USCC, 3, "A"), "area_code"),
        (_with(GOOD_USCC, 16, "5"), "org_code_check"),
        (_with(GOOD_USCC, 9, "1"), "org_code_check"),
        (_with(GOOD_USCC, 17, "M"), "check_char"),
    ],
)
def test_uscc_wrong_part(text: str, part: str) -> None:
    err = _raises(part, USCC.parse, text)
    assert err.details["kind"] == "uscc"


def test_uscc_check_char_message_names_expected() -> None:
    err = _raises("check_char", USCC.parse, _with(GOOD_USCC, 17, "M"))
    assert err.details["expected"] == "L"
    assert "'L'" in err.message
    assert err.message_zh is not None
    assert "应为 L" in err.message_zh
    err = _raises("org_code_check", USCC.parse, _with(GOOD_USCC, 16, "5"))
    assert err.details["expected"] == "4"


def test_org_code_check_x_and_zero() -> None:
    # Search bodies whose GB 11714 check is 10 (X) and 11 (0): both must build and parse.
    seen: set[str] = set()
    for n in range(200):
        u = USCC.build("91", "370100", f"{n:08d}")
        seen.add(u.org_code[-1])
        assert USCC.parse(str(u)) == u
    assert {"X", "0"} <= seen


# --------------------------------------------------------------------------- resident id


def test_sample_resident_id() -> None:
    rid = ResidentId.parse(SAMPLE_RESIDENT)
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.sex == "F"
    assert rid.area_code == "110105"
    assert area_name(rid.area_code) == "朝阳区"
    assert rid.masked() == "1****************X"
    assert SAMPLE_RESIDENT not in repr(rid)
    assert ResidentId.parse(" 11010519491231002x\t") == rid
    assert str(ResidentId.parse("11010519491231002x")) == SAMPLE_RESIDENT


def test_generated_resident_id() -> None:
    rid = ResidentId.build("370102", dt.date(1990, 2, 28), 123)
    assert str(rid)[:17] == "37010219900228123"
    assert rid.sex == "M"
    assert rid.birth_date == dt.date(1990, 2, 28)
    assert ResidentId.parse(str(rid)) == rid
    assert ResidentId.build("370102", dt.date(1990, 2, 28), 0).sex == "F"
    # Taiwan residents' residence permits use 83xxxx.
    assert ResidentId.build("830000", dt.date(1990, 1, 1), 1).area_code == "830000"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        (SAMPLE_RESIDENT[:-1], "length"),
        (SAMPLE_RESIDENT + "1", "length"),
        (_with(SAMPLE_RESIDENT, 3, "X"), "charset"),
        (_with(SAMPLE_RESIDENT, 3, "A"), "charset"),
        (_with(SAMPLE_RESIDENT, 3, "１"), "charset"),
        ("9" + SAMPLE_RESIDENT[1:], "area_code"),
        ("00" + SAMPLE_RESIDENT[2:], "area_code"),
        (SAMPLE_RESIDENT.replace("19491231", "19490231"), "birth_date"),
        (SAMPLE_RESIDENT.replace("19491231", "18991231"), "birth_date"),
        (SAMPLE_RESIDENT.replace("19491231", "21011231"), "birth_date"),
        (SAMPLE_RESIDENT.replace("19491231", "19491300"), "birth_date"),
        (_with(SAMPLE_RESIDENT, 17, "1"), "check_char"),
    ],
)
def test_resident_id_wrong_part(text: str, part: str) -> None:
    err = _raises(part, ResidentId.parse, text)
    assert err.details["kind"] == "resident_id"


def test_resident_id_check_char_message() -> None:
    err = _raises("check_char", ResidentId.parse, _with(SAMPLE_RESIDENT, 17, "1"))
    assert err.details["expected"] == "X"
    assert "'X'" in err.message


def test_resident_id_build_errors() -> None:
    birth = dt.date(1990, 1, 1)
    _raises("sequence", ResidentId.build, "370102", birth, 1000)
    _raises("sequence", ResidentId.build, "370102", birth, -1)
    _raises("sequence", ResidentId.build, "370102", birth, True)
    _raises("birth_date", ResidentId.build, "370102", dt.datetime(1990, 1, 1), 1)
    _raises("birth_date", ResidentId.build, "370102", dt.date(1899, 12, 31), 1)
    _raises("area_code", ResidentId.build, "990102", birth, 1)
    _raises("area_code", ResidentId.build, "37010", birth, 1)


# --------------------------------------------------------------------------- area codes


REQUIRED_AREAS = {
    "110000": "北京市",
    "370000": "山东省",
    "370100": "济南市",
    "320000": "江苏省",
    "320100": "南京市",
    "330105": "拱墅区",
    "340100": "合肥市",
    "430000": "湖南省",
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}


def test_area_table_contents() -> None:
    for code, name in REQUIRED_AREAS.items():
        assert AREAS[code] == name
    provinces = [c for c in AREAS if c.endswith("0000")]
    prefectures = [c for c in AREAS if c.endswith("00") and not c.endswith("0000")]
    counties = [c for c in AREAS if not c.endswith("00")]
    assert len(provinces) == 34
    assert len(prefectures) >= 333
    assert len(counties) >= 2800
    for code, name in AREAS.items():
        assert len(code) == 6
        assert code.isdigit()
        assert name
        assert name == name.strip()
        assert "," not in name
        assert code[:2] + "0000" in AREAS
    assert list(AREAS) == AREA_CODES  # sorted file


def test_area_code_parse_and_levels() -> None:
    jinan = AreaCode.parse("370100")
    assert jinan.name == "济南市"
    assert jinan.level == "prefecture"
    assert jinan.province == AreaCode.parse("370000")
    assert jinan.province.level == "province"
    assert jinan.prefecture == jinan
    gongshu = AreaCode.parse(" 330105 ")
    assert gongshu.level == "county"
    assert gongshu.province.name == "浙江省"
    prefecture = gongshu.prefecture
    assert prefecture is not None
    assert prefecture.name == "杭州市"
    assert AreaCode.parse("110000").prefecture is None
    assert AreaCode.parse("110105").prefecture is None  # municipality district
    assert AreaCode.parse("419001").level == "county"  # 济源市, directly under 河南省
    assert str(jinan) == "370100"
    assert AreaCode("370100", "济南市") == jinan


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("37010", "length"),
        ("3701000", "length"),
        ("37010A", "charset"),
        ("３70100", "charset"),
        ("370199", "area_code"),
        (NATIONAL_AREA_CODE, "area_code"),
        ("", "length"),
    ],
)
def test_area_code_wrong_part(text: str, part: str) -> None:
    err = _raises(part, AreaCode.parse, text)
    assert err.details["kind"] == "area_code"


def test_area_code_name_must_match() -> None:
    _raises("name", AreaCode, "370100", "南京市")


def test_area_helpers() -> None:
    assert area_name("340100") == "合肥市"
    assert area_name("999999") is None
    assert is_known_area("430000")
    assert not is_known_area("430099")
    assert not is_known_area(NATIONAL_AREA_CODE)


# --------------------------------------------------------------------------- identify


def test_identify_each_kind() -> None:
    kind, value = identify(REAL_IDS[0])
    assert kind == "licence_id"
    assert isinstance(value, LicenceId)
    kind, value = identify(" 11330105002500287c ")
    assert kind == "uscc"
    assert value == USCC.parse("11330105002500287C")
    kind, value = identify("11010519491231002x")
    assert kind == "resident_id"
    assert value == ResidentId.parse(SAMPLE_RESIDENT)
    kind, value = identify("340100")
    assert kind == "area_code"
    assert value == AreaCode.parse("340100")
    # An all-digit USCC is not mistaken for a resident id.
    kind, value = identify("113700000045046442")
    assert kind == "uscc"
    # ... and a typo in one is reported as a USCC error, not a birth-date error.
    err = _raises("check_char", identify, "113700000045046443")
    assert err.details["kind"] == "uscc"


@pytest.mark.parametrize(
    ("text", "kind", "part"),
    [
        (DRIFTED_ID, "licence_id", "check_char"),
        ("1.2.156.3005.9.1", "licence_id", "prefix"),
        (_with(GOOD_USCC, 17, "M"), "uscc", "check_char"),
        (_with(GOOD_USCC, 10, "I"), "uscc", "charset"),
        (_with(SAMPLE_RESIDENT, 17, "1"), "resident_id", "check_char"),
        (SAMPLE_RESIDENT.replace("19491231", "19490231"), "resident_id", "birth_date"),
        ("370199", "area_code", "area_code"),
    ],
)
def test_identify_errors_carry_kind(text: str, kind: str, part: str) -> None:
    err = _raises(part, identify, text)
    assert err.details["kind"] == kind


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("12345", "length"),
        ("ABCDEFGHIJ", "length"),
        ("１１０１０５", "charset"),
        ("37 0100", "charset"),
    ],
)
def test_identify_unrecognised(text: str, part: str) -> None:
    err = _raises(part, identify, text)
    assert "kind" not in err.details
