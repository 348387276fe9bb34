"""``elicense registry list|show``: query the licence registry of an issuer home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from elicense.cli.common import default_lang
from elicense.status.lifecycle import UnknownLicence

if TYPE_CHECKING:
    from elicense.registry import Registry


def open_registry(home_dir: Path, db: str | None, *, create: bool = False) -> Registry:
    """The registry of ``home_dir`` (or ``--db``); refuses to create one unless asked."""
    from elicense.home import Home
    from elicense.registry import Registry, url_for

    home = Home.load(home_dir)
    return Registry.open(url_for(home, db), create=create)


def _type_code(value: str | None) -> str | None:
    if value is None:
        return None
    from elicense.catalog import Catalog

    return Catalog.default().get(value).code


home_option = click.option(
    "--home", "home_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Issuer home directory.",
)  # fmt: skip
db_option = click.option(
    "--db", default=None, metavar="URL",
    help="Registry database URL (default: HOME/registry.sqlite; e.g. postgresql+psycopg://user@host/db).",
)  # fmt: skip


@click.group("registry")
def registry_group() -> None:
    """Query the licence registry (电子证照库)."""


@registry_group.command("list")
@home_option
@db_option
@click.option("--type", "type_code", default=None, help="Licence type code or slug.")
@click.option("--holder", "holder_code", default=None, help="Holder code (USCC / resident id).")
@click.option("--status", type=click.Choice(["valid", "suspended", "revoked", "superseded"]), default=None)
@click.option("--authority", "authority_code", default=None, help="Issuing authority code.")
@click.option("--source-id", default=None, help="Business key in the source system.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(
    home_dir: Path, db: str | None, type_code: str | None, holder_code: str | None, status: str | None,
    authority_code: str | None, source_id: str | None, limit: int, offset: int, as_json: bool,
) -> int:  # fmt: skip
    """List licences, filtered by type, holder code, status, authority or source id."""
    filters = {
        "type_code": _type_code(type_code), "holder_code": holder_code.upper() if holder_code else None,
        "status": status, "authority_code": authority_code, "source_id": source_id,
    }  # fmt: skip
    with open_registry(home_dir, db) as reg:
        records = reg.query(limit=limit, offset=offset, **filters)
        total = reg.count(**filters)
    if as_json:
        for rec in records:
            click.echo(json.dumps(rec.to_dict(), ensure_ascii=False))
        return 0
    zh = default_lang() == "zh"
    for rec in records:
        until = rec.valid_until or ("长期" if zh else "long-term")
        if zh:
            click.echo(f"{rec.id}  {_STATES_ZH.get(rec.status, rec.status)}  {rec.holder_code}  {rec.holder_name}  "
                       f"{rec.valid_from} 至 {until}  来源编号 {rec.source_id or '-'}")  # fmt: skip
        else:
            click.echo(f"{rec.id}  {rec.status:<10} {rec.holder_code}  {rec.holder_name}  "
                       f"{rec.valid_from}..{until}  source={rec.source_id or '-'}")  # fmt: skip
    shown = f"{len(records)} of {total}"
    click.echo((f"共 {total} 条，显示 {len(records)} 条" if zh else f"{shown} licences"), err=True)
    return 0


@registry_group.command("show")
@click.argument("licence_id", metavar="LICENCE")
@home_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON, with the QR text and full payload.")
@click.option("--qr", "qr_only", is_flag=True, help="Print only the EL2: QR text.")
def show_cmd(licence_id: str, home_dir: Path, db: str | None, as_json: bool, qr_only: bool) -> int:
    """Show one licence (LICENCE: its id, its source id, or a sample name in HOME/licences)."""
    from elicense.cli.licence_ref import resolve_licence

    with open_registry(home_dir, db) as reg:
        rec = reg.get(resolve_licence(home_dir, licence_id, reg))
        events = reg.status_events(rec.id) if rec is not None else []
    if rec is None:  # an error like every unknown id (exit >= 3), not a verification verdict
        raise UnknownLicence(
            f"no licence {licence_id!r} in the registry", message_zh=f"证照库中没有证照 {licence_id!r}"
        )
    if qr_only:
        click.echo(rec.qr_payload)
        return 0
    if as_json:
        doc = rec.to_dict(payloads=True)
        doc["status_events"] = [{k: v for k, v in e.items() if k != "id"} for e in events]
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    d = rec.to_dict()
    if default_lang() == "zh":
        _show_zh(d, events)
        return 0
    for key in ("id", "number", "type_code", "status", "holder_name", "holder_code", "holder_type",
                "authority_code", "issued_on", "valid_from", "valid_until", "status_index", "source_id",
                "supersedes", "predecessor", "successor", "kid", "signed_at", "updated_at"):  # fmt: skip
        click.echo(f"{key:<15} {d[key] if d[key] is not None else '-'}")
    for k, v in d["fields"].items():
        click.echo(f"  {k:<22} {v}")
    for e in events:
        effective = e.get("effective_at") or e["at"]
        click.echo(
            f"event effective {effective} (recorded {e['at']}) {e['previous']} -> {e['status']} "
            f"by {e['actor']}: {e['reason'] or '-'}" + (f" successor {e['successor']}" if e.get("successor") else "")
        )
    return 0


_STATES_ZH = {"valid": "有效", "suspended": "暂扣", "revoked": "已吊销/注销", "superseded": "已换发"}
_LABELS_ZH = {
    "id": "证照标识", "number": "证照编号", "type_code": "证照类型", "status": "状态", "holder_name": "持证主体",
    "holder_code": "持证主体代码", "holder_type": "代码类型", "authority_code": "发证机关代码", "issued_on": "签发日期",
    "valid_from": "有效期起始", "valid_until": "有效期截止", "status_index": "状态索引", "source_id": "来源编号",
    "supersedes": "替代的证照", "predecessor": "前一版证照", "successor": "新证照", "kid": "签名密钥标识",
    "signed_at": "签名时间", "updated_at": "更新时间",
}  # fmt: skip


def _show_zh(d: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """``registry show --lang zh``: Chinese labels, catalogue field names, Beijing time."""
    import datetime as dt

    from elicense.catalog import Catalog
    from elicense.trust.freshness import human_time
    from elicense.verdict.zh import to_zh

    def when(value: object) -> str:
        if not isinstance(value, str) or "T" not in value:
            return str(value) if value is not None else "-"
        try:
            return human_time(dt.datetime.fromisoformat(value.replace("Z", "+00:00")), "zh")
        except ValueError:
            return value

    lt = Catalog.default().find(str(d["type_code"]))
    for key, label in _LABELS_ZH.items():
        value = d.get(key)
        if key == "status":
            value = _STATES_ZH.get(str(value), value)
        elif key == "type_code" and lt is not None:
            value = f"{lt.name_zh}（{value}）"
        elif key == "valid_until" and value is None:
            value = "长期"
        elif key in ("signed_at", "updated_at"):
            value = when(value)
        click.echo(f"{label}：{value if value is not None else '-'}")
    for k, v in d["fields"].items():
        name = k
        if lt is not None:
            spec = next((f for f in lt.fields if f.key == k), None)
            name = spec.name_zh if spec else k
        click.echo(f"  {name}：{v}")

    def reason(value: object) -> str:
        text = str(value or "-")
        if text.startswith("{"):  # the registry's encoded reason: {"r": reason, "n": note, ...}
            try:
                doc = json.loads(text)
            except ValueError:
                return text
            if isinstance(doc, dict):
                return "；".join(to_zh(str(v)) for v in doc.values()) or "-"
        return to_zh(text)

    for e in events:
        effective = when(e.get("effective_at") or e["at"])
        before = _STATES_ZH.get(e["previous"], e["previous"])
        click.echo(
            f"状态变更：{effective}生效（记录于 {when(e['at'])}） {before} → "
            f"{_STATES_ZH.get(e['status'], e['status'])}，操作人 {e['actor']}：{reason(e['reason'])}"
            + (f"，新证照 {e['successor']}" if e.get("successor") else "")
        )
