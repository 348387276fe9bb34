"""Model invariants and the issuing builder."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from elicense.errors import IdentifierError, LicenceDataError, UsageError
from elicense.issue import LicenceBuilder
from elicense.model import Authority, Holder, HolderType, Validity, china_date, require_utc

AUTH = Authority("济南市行政审批服务局", "11370100MB28571989", "370100")


def test_require_utc() -> None:
    with pytest.raises(UsageError):
        require_utc(dt.datetime(2026, 1, 1))
    assert require_utc(dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))).hour == 0
    assert china_date(dt.datetime(2026, 1, 1, 17, tzinfo=dt.UTC)) == dt.date(2026, 1, 2)


def test_holder_codes_are_validated() -> None:
    assert Holder("王堃", "11010519491231002x", HolderType.RESIDENT_ID).code.endswith("X")
    with pytest.raises(IdentifierError):
        Holder("某公司", "91370102MA3C8K2L66", HolderType.USCC)
    with pytest.raises(LicenceDataError):
        Holder("  ", "11010519491231002X", HolderType.RESIDENT_ID)
    with pytest.raises(LicenceDataError):
        Holder("a\x00b", "11010519491231002X", HolderType.RESIDENT_ID)


def test_validity() -> None:
    v = Validity(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert v.contains(dt.date(2026, 12, 31)) and not v.contains(dt.date(2027, 1, 1))
    assert Validity(dt.date(2026, 1, 1)).long_term
    with pytest.raises(LicenceDataError):
        Validity(dt.date(2026, 1, 2), dt.date(2026, 1, 1))


def base() -> LicenceBuilder:
    return (
        LicenceBuilder()
        .licence_type("business-licence")
        .serial("370100000123456")
        .issuer(AUTH)
        .holder(Holder("山东示例有限公司", "91370102MA3C8K2L65", HolderType.USCC))
        .issued_on(dt.date(2026, 1, 1))
        .validity(dt.date(2026, 1, 1), None)
    )


FIELDS = {
    "entity_type": "有限责任公司",
    "legal_representative": "王堃",
    "establishment_date": "2019-03-18",
    "domicile": "济南市",
    "business_scope": "软件开发",
}


def test_builder_builds_a_conforming_licence() -> None:
    lic = base().fields(FIELDS).build()
    assert lic.id.check_ok and lic.type_code == "11100000MB0143028R001"
    assert lic.fields["establishment_date"] == dt.date(2019, 3, 18)
    assert lic.number == "370100000123456"


def test_builder_is_immutable_and_validates_each_setter() -> None:
    b = base()
    b2 = b.version(2)
    assert b._version == 1 and b2._version == 2
    for bad in (lambda: b.serial("含中文"), lambda: b.version(0), lambda: b.number(""), lambda: b.status_index(-1)):
        with pytest.raises(LicenceDataError):
            bad()


def test_builder_refuses_catalogue_violations() -> None:
    with pytest.raises(LicenceDataError) as exc:
        base().fields({"legal_representative": "王堃", "bogus": 1}).build()
    assert len(exc.value.details["problems"]) >= 2
    with pytest.raises(LicenceDataError):  # a person cannot hold a business licence
        base().holder(Holder("王堃", "11010519491231002X", HolderType.RESIDENT_ID)).fields(FIELDS).build()
    with pytest.raises(LicenceDataError):  # missing parts
        LicenceBuilder().licence_type("business-licence").build()


def test_with_status_index_gives_a_record_with_that_index_never_the_cached_one() -> None:
    """The shared record (built once per licence for issuing) follows a copy with another status index:
    a stale cache would sign one index into the QR and store another."""
    from elicense.basics import licence_record
    from elicense.qr.claims import full_record

    lic = base().fields(FIELDS).status_index(5).build()
    assert licence_record(lic)["status_index"] == 5 and licence_record(lic) is licence_record(lic)
    other = lic.with_status_index(77)
    assert other.status_index == 77 and licence_record(other)["status_index"] == 77 and lic.status_index == 5
    assert full_record(other) == full_record(dataclasses.replace(lic, status_index=77))
    assert other == dataclasses.replace(lic, status_index=77)
    for bad in (-1, 2**32, True, 1.0):
        with pytest.raises(LicenceDataError):
            lic.with_status_index(bad)  # type: ignore[arg-type]
