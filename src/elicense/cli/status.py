"""``elicense revoke | suspend | reinstate | supersede`` and ``elicense status show | publish | revoke-cert``.

The command line is the edge of the system, so it reads the clock here
(``--effective`` back-dates the legal effect; the record time is now).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from elicense.cli.common import default_lang
from elicense.errors import UsageError

_home = click.option(
    "--home", "home_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Issuer home directory.",
)  # fmt: skip
_db = click.option("--db", default=None, metavar="URL", help="Registry database URL (default: the home's).")
_effective = click.option(
    "--effective",
    metavar="ISO-8601",
    help="When it takes effect (default: now; may be earlier, or up to a year later: scheduled).",
)
_actor = click.option("--actor", default=None, help="Operator recorded in the audit log (default: login name).")
_note = click.option("--note", default=None, help="Free text for the audit record (decision number, ...).")
_json = click.option("--json", "as_json", is_flag=True, help="Print the status event as JSON.")

F = TypeVar("F", bound=Callable[..., object])


def _change_options(command: F) -> F:
    """The options every status change takes (revoke, suspend, reinstate, supersede), declared once."""
    for option in (_json, _note, _actor, _effective, _db, _home):  # innermost first: --help lists --home first
        command = option(command)
    return command


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _time(value: str | None, what: str) -> dt.datetime | None:
    from elicense.cli.verify import parse_at

    try:
        return parse_at(value)
    except UsageError as exc:
        raise UsageError(exc.message.replace("--at", what), message_zh=exc.message_zh) from exc


_STATES_ZH = {"valid": "有效", "suspended": "暂扣", "revoked": "已吊销/注销", "superseded": "已换发"}
_ACTIONS_ZH = {"issue": "签发", "suspend": "暂扣", "reinstate": "恢复", "revoke": "吊销", "supersede": "换发"}


def _state(value: str, zh: bool) -> str:
    """A licence status for people (``--lang zh``: 有效 / 暂扣 / ...)."""
    return _STATES_ZH.get(value, value) if zh else value


def _actor_name(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _run(
    action_name: str, licence_id: str, home_dir: Path, db: str | None, *, effective: str | None,
    actor: str | None, note: str | None, as_json: bool, reason: str | None = None, successor: str | None = None,
) -> int:  # fmt: skip
    from elicense.cli.licence_ref import resolve_licence
    from elicense.home import Home
    from elicense.services.status import change_status, open_registry
    from elicense.status.lifecycle import Action
    from elicense.status.reasons import REASONS_BY_KEY

    home = Home.load(home_dir)
    now = _now()
    with open_registry(home, db) as registry:
        licence_id = resolve_licence(home, licence_id, registry)
        if successor is not None:
            successor = resolve_licence(home, successor, registry)
        event = change_status(
            registry, licence_id, Action(action_name), at=now, actor=_actor_name(actor),
            effective_at=_time(effective, "--effective"), reason=reason, successor=successor, note=note,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(event.to_dict(), ensure_ascii=False))
    else:
        from elicense.trust.freshness import human_time

        zh = default_lang() == "zh"
        why = REASONS_BY_KEY.get(event.reason or "")
        label = (why.zh if zh else why.key) if why else ""
        before = _state(event.from_status.value, zh) if event.from_status else "-"
        if zh:
            click.echo(
                f"{event.licence_id}：{before} → {_state(event.to_status.value, zh)}"
                f"{f'（{label}）' if label else ''}，生效时间 {human_time(event.effective_at, 'zh')}"
                + (f"，新证照 {event.successor}" if event.successor else "")
            )
        else:
            click.echo(
                f"{event.licence_id}: {before} → {event.to_status.value}{f' ({label})' if label else ''}, "
                f"effective {human_time(event.effective_at, 'en')}"
                + (f", successor {event.successor}" if event.successor else "")
            )
        if event.effective_at > now:
            click.echo(
                "  "
                + (
                    "已排期：生效前发布的状态列表在生效时刻过期"
                    if zh
                    else "scheduled: status lists published before it take effect go stale at that time"
                )
            )
        click.echo(
            "  "
            + (
                "发布新的状态列表后生效于离线核验：elicense status publish / elicense bundle"
                if zh
                else "kiosks see it once a new status list is published (elicense status publish / bundle)"
            )
        )
    return 0


@click.command("revoke")
@click.argument("licence_id", metavar="LICENCE")
@click.option(
    "--reason",
    default="revoked",
    show_default=True,
    help="revoked (吊销), cancelled (注销), annulled (撤销), key_compromise.",
)
@_change_options
def revoke_cmd(licence_id: str, reason: str, home_dir: Path, db: str | None, effective: str | None,
               actor: str | None, note: str | None, as_json: bool) -> int:  # fmt: skip
    """Revoke a licence (吊销 / 注销 / 撤销): permanent."""
    return _run("revoke", licence_id, home_dir, db, effective=effective, actor=actor, note=note,
                as_json=as_json, reason=reason)  # fmt: skip


@click.command("suspend")
@click.argument("licence_id", metavar="LICENCE")
@_change_options
def suspend_cmd(licence_id: str, home_dir: Path, db: str | None, effective: str | None,
                actor: str | None, note: str | None, as_json: bool) -> int:  # fmt: skip
    """Suspend a licence (暂扣) until it is reinstated."""
    return _run("suspend", licence_id, home_dir, db, effective=effective, actor=actor, note=note, as_json=as_json)


@click.command("reinstate")
@click.argument("licence_id", metavar="LICENCE")
@_change_options
def reinstate_cmd(licence_id: str, home_dir: Path, db: str | None, effective: str | None,
                  actor: str | None, note: str | None, as_json: bool) -> int:  # fmt: skip
    """Reinstate a suspended licence (a revoked or superseded one cannot be)."""
    return _run("reinstate", licence_id, home_dir, db, effective=effective, actor=actor, note=note,
                as_json=as_json)  # fmt: skip


@click.command("supersede")
@click.argument("licence_id", metavar="LICENCE")
@click.option(
    "--with",
    "successor",
    required=True,
    metavar="NEW_ID",
    help="The new licence (issued with supersedes=OLD): id, source id or sample name.",
)
@_change_options
def supersede_cmd(licence_id: str, successor: str, home_dir: Path, db: str | None, effective: str | None,
                  actor: str | None, note: str | None, as_json: bool) -> int:  # fmt: skip
    """Mark a licence as superseded (变更 / 换发) by NEW_ID."""
    return _run("supersede", licence_id, home_dir, db, effective=effective, actor=actor, note=note,
                as_json=as_json, successor=successor)  # fmt: skip


@click.group("status")
def status_group() -> None:
    """Licence status: show history, publish status lists and CRLs, revoke certificates."""


@status_group.command("show")
@click.argument("licence_id", metavar="LICENCE")
@_home
@_db
@click.option("--at", "at_", metavar="ISO-8601", help="Status as of this time (default: now).")
@_json
def show_cmd(licence_id: str, home_dir: Path, db: str | None, at_: str | None, as_json: bool) -> int:
    """A licence's status (at a time) and its history."""
    from elicense.home import Home
    from elicense.identifiers import LicenceId
    from elicense.services.status import licence_state, open_registry

    home = Home.load(home_dir)
    when = _time(at_, "--at") or _now()
    from elicense.cli.licence_ref import resolve_licence

    with open_registry(home, db) as registry:
        state = licence_state(registry, str(LicenceId.parse(resolve_licence(home, licence_id, registry))))
    view = state.status_at(when)
    doc: dict[str, Any] = {
        "licence_id": state.licence_id, "authority_code": state.authority_code, "status_index": state.status_index,
        "at": when.isoformat().replace("+00:00", "Z"), "status": view.status.value if view else None,
        "reason": view.reason if view else None, "successor": view.successor if view else None,
        "history": [e.to_dict() for e in state.history],
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
    elif default_lang() == "zh":
        from elicense.trust.freshness import human_time
        from elicense.verdict.zh import to_zh

        status = _state(doc["status"], True) if doc["status"] else "尚未签发"
        click.echo(
            f"{doc['licence_id']}：{human_time(when, 'zh')}时{status}"
            + (f"（{to_zh(doc['reason'])}）" if doc["reason"] else "")
            + (f" → 新证照 {doc['successor']}" if doc["successor"] else "")
        )
        for ev, e in zip(state.history, doc["history"], strict=True):
            pending = "（已排期）" if e["effective_at"] > doc["at"] else ""
            click.echo(
                f"  {human_time(ev.effective_at, 'zh')}{pending}  {_ACTIONS_ZH.get(e['action'], e['action'])} "
                f"{_state(e['from'], True) if e['from'] else '-'} → {_state(e['to'], True)}"
                + (f"  [{to_zh(e['reason'])}]" if e["reason"] else "")
                + (f"  → {e['successor']}" if e["successor"] else "")
                + (f"  （记录于 {human_time(ev.recorded_at, 'zh')}）" if e["recorded_at"] != e["effective_at"] else "")
                + (f"  {e['note']}" if e["note"] else "")
            )
    else:
        click.echo(
            f"{doc['licence_id']}: {doc['status'] or 'not yet issued'} at {doc['at']}"
            + (f" ({doc['reason']})" if doc["reason"] else "")
            + (f" → {doc['successor']}" if doc["successor"] else "")
        )
        for e in doc["history"]:
            pending = " (scheduled)" if e["effective_at"] > doc["at"] else ""
            click.echo(
                f"  {e['effective_at']}{pending}  {e['action']:<9} {e['from'] or '-'} → {e['to']}"
                + (f"  [{e['reason']}]" if e["reason"] else "")
                + (f"  → {e['successor']}" if e["successor"] else "")
                + (f"  (recorded {e['recorded_at']})" if e["recorded_at"] != e["effective_at"] else "")
                + (f"  {e['note']}" if e["note"] else "")
            )
    return 0


@status_group.command("publish")
@_home
@_db
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the status section (JSON) here."
)
@click.option(
    "--trust-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Add (replace) the status section of this trust file.",
)
@click.option(
    "--validity-days", type=click.IntRange(1, 31), default=7, show_default=True, help="Days until next update."
)
def publish_cmd(home_dir: Path, db: str | None, output: Path | None, trust_file: Path | None,
                validity_days: int) -> int:  # fmt: skip
    """Sign fresh status lists (one per authority) and CRLs (one per CA)."""
    from elicense.crypto.keys import atomic_write
    from elicense.home import Home
    from elicense.services.status import status_sections
    from elicense.status.section import add_to_trust_file

    if output is None and trust_file is None:
        raise UsageError("give -o FILE and/or --trust-file FILE")
    home = Home.load(home_dir)
    days = dt.timedelta(days=validity_days)
    sections = status_sections(home, _now(), db=db, validity=days, crl_validity=days)
    if output is not None:
        atomic_write(output, sections.to_json())
    if trust_file is not None:
        add_to_trust_file(trust_file, sections.status_lists, sections.crls)
    for code, counts in sections.counts.items():
        click.echo(f"{code}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo(
        f"{len(sections.status_lists)} status lists, {len(sections.crls)} CRLs; "
        f"next update {sections.next_update.isoformat()}"
    )
    return 0


@status_group.command("revoke-cert")
@_home
@click.option("--authority", required=True, help="Authority (code or name) whose signing certificate to revoke.")
@click.option(
    "--reason",
    default="key_compromise",
    show_default=True,
    help="key_compromise, affiliation_changed, superseded, cessation_of_operation, unspecified.",
)
@click.option(
    "--invalid-since",
    metavar="ISO-8601",
    help="When the key was (suspected) compromised: licences signed from then on are INVALID.",
)
def revoke_cert_cmd(home_dir: Path, authority: str, reason: str, invalid_since: str | None) -> int:
    """Revoke an authority's signing certificate (published in the next CRL)."""
    from elicense.home import Home
    from elicense.services.status import revoke_certificate

    home = Home.load(home_dir)
    entry = home.authority(authority)
    cert = home.certificates(entry.cert)[0]
    rev = revoke_certificate(home, cert, at=_now(), reason=reason,
                             invalid_since=_time(invalid_since, "--invalid-since"))  # fmt: skip
    click.echo(
        f"revoked certificate {cert.serial_number:x} of {entry.name} ({reason}), "
        f"effective {rev.effective.isoformat()}; run 'elicense status publish' or 'elicense bundle'"
    )
    return 0


COMMANDS = (revoke_cmd, suspend_cmd, reinstate_cmd, supersede_cmd, status_group)
"""Everything this module adds to the ``elicense`` group."""
