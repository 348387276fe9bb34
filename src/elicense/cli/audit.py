"""``elicense audit verify|log``: check and read the registry's hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path

import click

from elicense.cli.common import EXIT_INVALID, default_lang
from elicense.cli.registry import db_option, home_option, open_registry


@click.group("audit")
def audit_group() -> None:
    """The registry's append-only, hash-chained audit log (审计日志)."""


@audit_group.command("verify")
@home_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_cmd(home_dir: Path, db: str | None, as_json: bool) -> int:
    """Check every link of the chain and every licence row; exit 1 at the first broken link."""
    with open_registry(home_dir, db) as reg:
        report = reg.verify_audit()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        zh = default_lang() == "zh"
        if report.ok:
            click.echo(f"审计日志完整：{report.entries} 条" if zh else f"audit log intact: {report.entries} entries")
        elif report.first_broken_seq is not None:
            click.echo(
                (f"审计日志在第 {report.first_broken_seq} 条断裂：" if zh
                 else f"audit log broken at entry {report.first_broken_seq}: ") + str(report.problem)
            )  # fmt: skip
        for p in report.licence_problems:
            click.echo(("证照与审计记录不符：" if zh else "licence mismatch: ") + p)
    return 0 if report.ok else EXIT_INVALID


@audit_group.command("log")
@home_option
@db_option
@click.option("--since", type=click.IntRange(0), default=0, help="Show entries after this sequence number.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def log_cmd(home_dir: Path, db: str | None, since: int, limit: int, as_json: bool) -> int:
    """Print audit entries in chain order."""
    with open_registry(home_dir, db) as reg:
        entries = list(reg.audit_entries(since=since, limit=limit))
    for e in entries:
        if as_json:
            click.echo(json.dumps(e.to_dict(), ensure_ascii=False))
        else:
            click.echo(f"{e.seq:>8} {e.at} {e.actor:<24} {e.action:<18} {e.subject} {e.details}")
    return 0
