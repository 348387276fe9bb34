"""Display safety: bidi controls and invisible characters in names, formulas in report CSVs.

Issuance refuses names and text fields carrying bidi controls or zero-width/format characters (typed
error naming the field); whatever a verifier *shows* from a payload (a rogue but trusted issuer can sign
anything) is neutralised to ``<U+202E>`` in the CLI's text output and the kiosk's JSON.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest

import registry_support as rs
from conftest import NOW
from elicense.cli import run
from elicense.display import FORMAT_CHARACTERS, csv_cell, neutralise, unsafe_char
from elicense.errors import CatalogError, LicenceDataError
from elicense.home import Home
from elicense.qr import cbor
from elicense.qr.payload import unwrap, wrap
from elicense.verify import Status

from ._support import verify_cli

SAMPLE = "business-licence-jinan"
RLO = "\u202e"
REVERSED = f"公司限有技科{RLO}造智信鲁东山"


@pytest.mark.parametrize(
    "char",
    [
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "\u200b",
        "\u200c",
        "\u200d",
        "\ufeff",
        "\u2060",
        "\u00ad",
        "\U000e0041",
    ],
)
def test_every_bidi_and_format_character_is_unsafe(char: str) -> None:
    assert unsafe_char(f"济南{char}公司") == char
    assert neutralise(f"济南{char}公司") == f"济南<U+{ord(char):04X}>公司"


def test_format_character_class_covers_unicode_category_cf() -> None:
    import re

    pattern = re.compile(f"[{FORMAT_CHARACTERS}]")
    missing = [
        f"U+{cp:04X}" for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf" and not pattern.match(chr(cp))
    ]
    assert missing == []


def test_attack_bidi_override_in_holder_name_is_refused_at_issuance() -> None:
    from elicense.basics import HolderType
    from elicense.model import Holder

    for name in (REVERSED, "\u200b\u200b\u200b", "\u200d"):
        with pytest.raises(LicenceDataError) as info:
            Holder(name, "91370102MA3C8K2L65", HolderType.USCC)
        assert "holder name" in info.value.message and info.value.details["field"] == "holder name"


def test_attack_zero_width_character_in_a_catalogue_text_field_is_refused() -> None:
    from elicense.catalog import Catalog

    lt = Catalog.default().get(rs.TYPE)
    good = {
        "holder_name": "济南单证科技有限公司",
        "holder_code": "91370102MA3C8K2L65",
        "entity_type": "有限责任公司",
        "legal_representative": "李珺",
        "establishment_date": "2020-01-02",
        "domicile": "济南",
        "business_scope": "软件开发",
    }
    fields = {k: v for k, v in good.items() if k not in ("holder_name", "holder_code")}
    lt.validate_fields(fields)
    with pytest.raises((CatalogError, LicenceDataError)) as info:
        lt.validate_fields({**fields, "legal_representative": "李\u200b珺"})
    assert "legal_representative" in info.value.message and "U+200B" in info.value.message


def test_attack_bidi_override_in_holder_name_through_the_issue_cli(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    home = Home.load(rs.demo_home(tmp_path / "home"))
    args = ["issue", "--type", rs.TYPE, "--home", str(home.path), "--out", str(tmp_path / "out"), "--json"]
    for f in [
        "source_id=BIDI-1",
        f"holder_name={REVERSED}",
        "holder_code=91370102MA3C8K2L65",
        "entity_type=有限责任公司",
        "法定代表人=李珺",
        "establishment_date=2020-01-02",
        "domicile=济南",
        "business_scope=软件开发",
    ]:
        args += ["--field", f]
    assert run(args) == 3
    captured = capsys.readouterr()
    assert "U+202E" in captured.err + captured.out
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def _rogue_payload(world, holder_name: str) -> str:  # type: ignore[no-untyped-def]
    """The genuine claims with the holder name replaced, signed by the (trusted) issuing authority's key."""
    from elicense.crypto.algorithms import der_to_cose
    from elicense.qr.cose import low_s, sig_structure

    issued = world.issued[SAMPLE]
    protected, _u, payload, _sig = cbor.loads(
        unwrap(issued.qr_payload), allowed_tags=frozenset({18}), max_depth=4
    ).value
    claims = cbor.loads(payload, max_depth=4)
    licence = claims[-65537]  # the CWT's private licence claims map (specs/qr-payload.md)
    name = issued.licence.holder.name
    (key,) = [k for k, v in licence.items() if v in (name, name.encode("utf-16-be"))]  # text or its compact form
    utf16 = holder_name.encode("utf-16-be")
    claims[-65537] = {**licence, key: utf16 if len(utf16) < len(holder_name.encode()) else holder_name}
    body = cbor.dumps(claims)
    signer = world.home.signer(world.home.authority(issued.licence.issuer.code))
    signature = low_s(-7, der_to_cose(signer.algorithm, signer.sign(sig_structure(protected, body))))
    return wrap(cbor.dumps(cbor.tag(18, [protected, {}, body, signature])))


def test_attack_bidi_override_in_holder_name_signed_by_a_rogue_issuer_displays_neutralised(
    world, verifier, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import make_app

    text = _rogue_payload(world, REVERSED)
    result = verifier.verify(text, at=NOW)
    assert result.status is Status.VALID and result.licence is not None  # signed by a trusted key
    assert RLO in result.licence.holder_name
    # the API hands back the data as signed; every display neutralises it
    path = tmp_path / "rogue.txt"
    path.write_text(text)
    out = verify_cli(str(path), trust=world.trust_file, at=NOW).stdout
    assert RLO not in out and "<U+202E>" in out
    doc = make_app(verifier).handle("POST", "/api/verify", text.encode()).json()
    shown = json.dumps(doc, ensure_ascii=False)
    assert RLO not in shown and "<U+202E>" in doc["licence"]["holder"] + json.dumps(doc["results"], ensure_ascii=False)


def test_attack_zero_width_only_holder_name_signed_by_a_rogue_issuer_is_visible(world, verifier) -> None:  # type: ignore[no-untyped-def]
    from elicense.kiosk.server import make_app

    text = _rogue_payload(world, "\u200b\u200b")
    doc = make_app(verifier).handle("POST", "/api/verify", text.encode()).json()
    assert doc["licence"]["holder"] == "<U+200B><U+200B>"
    assert "\u200b" not in json.dumps(doc, ensure_ascii=False)


# -- CSV injection ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1"])
def test_csv_cell_neutralises_formula_prefixes(value: str) -> None:
    assert csv_cell(value) == "'" + value
    assert csv_cell("济南") == "济南" and csv_cell(7) == 7


def test_attack_csv_formula_in_rejected_rows_report(tmp_path: Path) -> None:
    from elicense.registry import sqlite_url
    from elicense.registry.batch import run_batch

    home = Home.load(rs.demo_home(tmp_path / "home"))
    rows = [rs.row(i) for i in range(3)]
    rows[1][0] = "=cmd|' /C calc'!A0"  # source id
    rows[1][3] = '=HYPERLINK("http://evil","x")'  # holder code: rejected, and quoted in the reason
    rows[2][0] = "@SUM(A1)"
    rows[2][3] = "+not-a-code"
    report = run_batch(
        rs.csv_bytes(rows),
        home=home,
        url=sqlite_url(home.path / "registry.sqlite"),
        type_code=rs.TYPE,
        at=rs.NOW,
        actor="attack",
        report_path=tmp_path / "report.csv",
    )
    assert report.rejected == 2
    with open(tmp_path / "report.csv", encoding="utf-8", newline="") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert cells and not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(A1)" in cells
