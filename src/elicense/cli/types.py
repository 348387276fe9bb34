"""``elicense types`` and ``elicense types show TYPE``: what can be issued, and with which fields.

The catalogue (``specs/catalog/``) as a newcomer needs it before ``elicense issue``:
each field's key, zh/en label, whether it is required, its format and an example.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from elicense.cli.common import default_lang

if TYPE_CHECKING:
    from elicense.catalog import FieldSpec, LicenceType

_FORMATS = {
    "string": ("text, at most {n} characters", "文本，至多 {n} 字"),
    "text": ("text (several lines), at most {n} characters", "多行文本，至多 {n} 字"),
    "date": ("date YYYY-MM-DD", "日期 YYYY-MM-DD"),
    "integer": ("whole number", "整数"),
    "decimal": ("decimal number", "数字（可有小数）"),
    "enum": ("one of: {choices}", "取值之一：{choices}"),
    "uscc": ("统一社会信用代码 (18 characters, GB 32100)", "统一社会信用代码（18 位，GB 32100）"),
    "resident_id": ("公民身份号码 (18 characters, GB 11643)", "公民身份号码（18 位，GB 11643）"),
    "area_code": ("area code (6 digits, GB/T 2260)", "行政区划代码（6 位，GB/T 2260）"),
}

COMMON_COLUMNS = (
    ("source_id", "来源编号", "source-system business key (issuing twice with it issues once)", True, "JN2024-000001"),
    ("holder_name", "持证主体", "holder name", True, None),
    ("holder_code", "持证主体代码", "holder code (统一社会信用代码 or 公民身份号码)", True, None),
    ("number", "证照编号", "licence number (default: from the serial)", False, None),
    ("issued_on", "签发日期", "issue date YYYY-MM-DD (default: today)", False, "2026-06-01"),
    ("valid_from", "有效期起始", "start of validity (default: the issue date)", False, None),
    ("valid_until", "有效期截止", "end of validity, or 长期 (default: the type's usual term)", False, None),
)
"""Columns every type takes besides its own fields (see ``elicense.registry.batch.RESERVED_COLUMNS``)."""


def field_format(spec: FieldSpec, lang: str) -> str:
    """A field's value format in words."""
    en, zh = _FORMATS.get(spec.type, (spec.type, spec.type))
    text = zh if lang == "zh" else en
    return text.format(n=spec.max_length or "", choices=" / ".join(spec.choices or ()))


def _examples(lt: LicenceType) -> dict[str, str]:
    """Example values: the demo's sample of this type (real-looking data), if it has one."""
    from elicense.demo import SAMPLES

    for sample in SAMPLES:
        if sample.type_slug == lt.slug:
            return {"holder_name": sample.holder.name, "holder_code": sample.holder.code,
                    **{k: str(v) for k, v in sample.fields.items()}}  # fmt: skip
    return {}


def type_fields(lt: LicenceType) -> list[dict[str, Any]]:
    """Every column ``issue --field`` takes for ``lt``: the common ones, then the type's fields."""
    examples = _examples(lt)
    rows: list[dict[str, Any]] = []
    for key, zh, en, required, example in COMMON_COLUMNS:
        rows.append({"key": key, "name_zh": zh, "name_en": en, "required": required, "common": True,
                     "format": {"en": en, "zh": zh}, "example": examples.get(key, example)})  # fmt: skip
    for f in lt.fields:
        rows.append({"key": f.key, "name_zh": f.name_zh, "name_en": f.name_en, "required": f.required,
                     "common": False, "type": f.type,
                     "format": {"en": field_format(f, "en"), "zh": field_format(f, "zh")},
                     "example": examples.get(f.key)})  # fmt: skip
    return rows


@click.group("types", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per type.")
@click.pass_context
def types_group(ctx: click.Context, as_json: bool) -> int:
    """List the licence types of the catalogue (what ``elicense issue --type`` takes)."""
    if ctx.invoked_subcommand is not None:
        return 0
    from elicense.catalog import Catalog

    zh = default_lang() == "zh"
    for lt in sorted(Catalog.default(), key=lambda t: t.slug):
        if as_json:
            click.echo(json.dumps({"slug": lt.slug, "code": lt.code, "name_zh": lt.name_zh, "name_en": lt.name_en,
                                   "fields": len(lt.fields)}, ensure_ascii=False))  # fmt: skip
        else:
            click.echo(f"{lt.slug:<30} {lt.code}  {lt.name_zh}" + ("" if zh else f"  ({lt.name_en})"))
    if not as_json:
        hint = "字段详情：elicense types show 类型" if zh else "fields of a type: elicense types show TYPE"
        click.echo(hint, err=True)
    return 0


@types_group.command("show")
@click.argument("type_name", metavar="TYPE")
@click.option("--json", "as_json", is_flag=True, help="The fields as JSON.")
def show_cmd(type_name: str, as_json: bool) -> int:
    """The fields of one licence type: key, zh/en label, required, format, example."""
    from elicense.catalog import Catalog

    lt = Catalog.default().get(type_name)
    rows = type_fields(lt)
    if as_json:
        click.echo(json.dumps({"slug": lt.slug, "code": lt.code, "name_zh": lt.name_zh, "name_en": lt.name_en,
                               "fields": rows}, ensure_ascii=False, indent=1))  # fmt: skip
        return 0
    lang = "zh" if default_lang() == "zh" else "en"
    if lang == "zh":
        click.echo(f"{lt.name_zh}（{lt.slug}，{lt.code}）")
    else:
        click.echo(f"{lt.name_zh} {lt.name_en} ({lt.slug}, {lt.code})")
    need, opt = ("必填", "选填") if lang == "zh" else ("required", "optional")
    for row in rows:
        if row["common"]:
            label = row["name_zh"] if lang == "zh" else f"{row['name_zh']} — {row['name_en']}"
        else:
            label = f"{row['name_zh']} / {row['name_en']} — {row['format'][lang]}"
        example = ""
        if row["example"]:
            example = f"  例：{row['example']}" if lang == "zh" else f"  e.g. {row['example']}"
        click.echo(f"  {row['key']:<24} {need if row['required'] else opt:<8} {label}{example}")
    slug = lt.slug
    click.echo(
        ("用法" if lang == "zh" else "usage") + f": elicense issue --home DIR --type {slug} "
        "--field source_id=... --field holder_name=... --field holder_code=... --field KEY=VALUE ...",
        err=True,
    )
    return 0
