"""``elicense id check VALUE``."""

from __future__ import annotations

import json

import click

from elicense.cli.common import EXIT_INVALID, EXIT_VALID, default_lang

_KIND_NAMES = {
    "licence_id": ("licence identifier (GB/T 36904)", "电子证照标识（GB/T 36904）"),
    "uscc": ("unified social credit code (GB 32100)", "统一社会信用代码（GB 32100）"),
    "resident_id": ("resident ID number (GB 11643)", "公民身份号码（GB 11643）"),
    "area_code": ("administrative area code (GB/T 2260)", "行政区划代码（GB/T 2260）"),
}


@click.group("id")
def id_group() -> None:
    """Identifier tools."""


@id_group.command("check")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Message language.")
def check_cmd(value: str, as_json: bool, lang: str | None) -> int:
    """Recognise and validate a licence id, USCC, resident ID number or area code.

    Exit 0 when valid, 1 when invalid (the message says which part is wrong).
    """
    from elicense.errors import IdentifierError
    from elicense.identifiers import identify

    lang = lang or default_lang()
    i = 1 if lang == "zh" else 0
    try:
        kind, parsed = identify(value)
    except IdentifierError as exc:
        bad_kind = exc.details.get("kind")
        out = {"value": value, "kind": bad_kind, "valid": False, "part": exc.part, "message": exc.localized(lang)}
        if as_json:
            click.echo(json.dumps(out, ensure_ascii=False))
        else:
            name = _KIND_NAMES[bad_kind][i] if bad_kind in _KIND_NAMES else ("unrecognised", "无法识别")[i]
            click.echo(
                f"{name}: {('INVALID', '无效')[i]} — {exc.localized(lang)}"
                + (f" [part: {exc.part}]" if exc.part else "")
            )
        return EXIT_INVALID
    if as_json:
        click.echo(
            json.dumps({"value": value, "kind": kind, "valid": True, "normalized": str(parsed)}, ensure_ascii=False)
        )
    else:
        click.echo(f"{_KIND_NAMES[kind][i]}: {('VALID', '有效')[i]} — {parsed}")
    return EXIT_VALID
