"""``elicense issue``: issue one licence, or a CSV batch (存量证照电子化), into the registry.

Single: ``elicense issue --type business-licence --home DIR --field source_id=A1
--field holder_name=... --field holder_code=... --field legal_representative=...``
(or ``--from-json FILE`` with one object of the same keys). Prints the licence id and
writes ``--out DIR/<id>.qr.txt``; re-running with the same ``source_id`` issues nothing.

Batch: ``elicense issue --batch FILE.csv --type CODE --home DIR [--workers N] [--pdf OUTDIR] [--ofd OUTDIR]``.
``--pdf-level B-T|B-LT [--tsa-url URL]`` makes the PDFs timestamped / long-term (as ``elicense render``).
Rejected rows go to ``--report`` (default ``FILE.report.csv``). Exit 0 when every row is
issued or already was, 1 when some rows were rejected, 3+ on errors.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from elicense.cli.common import EXIT_INVALID, default_lang, echo_err, nothing_left_open
from elicense.cli.pdf import pdf_level_option, tsa_url_option
from elicense.cli.registry import db_option, home_option
from elicense.errors import InputError, UsageError

if TYPE_CHECKING:
    from elicense.home import Home
    from elicense.registry.batch import BatchProgress, DocumentSpec

MAX_JSON_BYTES = 1 << 20


class _ProgressLine:
    """The batch progress line on stderr: rows done, rate, ETA, issued / skipped / rejected, documents.

    On a terminal it is redrawn in place (at most ten times a second); elsewhere (``--progress`` into a
    file or pipe) one line per second at most, and the last of each phase. Rate and ETA are over the
    whole phase so far (the pool's start-up included), not the last chunk: they do not jump about.
    Python warnings raised meanwhile are held back and printed after the line, not through it.
    """

    def __init__(self, *, zh: bool, tty: bool) -> None:
        self.zh, self.tty = zh, tty
        self.last = 0.0
        self.drawn = False
        self._caught = warnings.catch_warnings(record=True)  # the filters stay (elicense.pdf's DSA one too)
        self._held = self._caught.__enter__()

    def text(self, p: BatchProgress) -> str:
        """One line (no newline) for ``p``."""
        rate = p.done / p.elapsed if p.elapsed > 0 and p.done else 0.0
        left = p.total - p.done
        eta = "0:00:00" if left == 0 else str(dt.timedelta(seconds=round(left / rate))) if rate else "-"
        pct = 100 * p.done // p.total if p.total else 100
        if self.zh:
            phase = "签发" if p.phase == "issuing" else "补写文档"
            return (f"elicense：{phase} {p.done}/{p.total} 行（{pct}%），{rate:.1f} 行/秒，剩余 {eta}；"
                    f"已签发 {p.issued}，跳过 {p.skipped}，拒绝 {p.rejected}，文档 {p.documents}")  # fmt: skip
        return (f"elicense: {p.phase} {p.done}/{p.total} rows ({pct}%), {rate:.1f} rows/s, ETA {eta}; "
                f"issued {p.issued}, skipped {p.skipped}, rejected {p.rejected}, documents {p.documents}")  # fmt: skip

    def __call__(self, p: BatchProgress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if not final and now - self.last < (0.1 if self.tty else 1.0):
            return
        self.last = now
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + self.text(p))
            self.drawn = True
        else:
            sys.stderr.write(self.text(p) + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        """End the line and print the warnings held back."""
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._caught.__exit__(None, None, None)
        for w in self._held:
            echo_err(f"elicense: warning: {w.message}")


def _interrupted_hint(p: BatchProgress, *, zh: bool, kind: str | None) -> str:
    """What an interrupted batch left behind, and how to finish it (the same command again)."""
    docs = {"pdf": "PDFs", "ofd": "OFDs"}.get(kind or "", "")
    if zh:
        extra = f"，缺少的 {docs} 会补写" if docs else ""
        return (f"elicense：已中断：本次签发 {p.issued} 张（另有 {p.skipped} 张此前已签发）；已提交的不会丢失。"
                f"再次运行同一命令即可继续：已签发的行会跳过{extra}。")  # fmt: skip
    extra = f", missing {docs} are written" if docs else ""
    return (f"elicense: interrupted: {p.issued} licences issued by this run ({p.skipped} were already issued), "
            "committed rows stay issued; re-run the same command to resume "
            f"(issued rows are skipped{extra})")  # fmt: skip


def _single_values(fields: tuple[str, ...], from_json: Path | None) -> dict[str, str]:
    values: dict[str, str] = {}
    if from_json is not None:
        data = from_json.read_bytes()
        if len(data) > MAX_JSON_BYTES:
            raise InputError(f"{from_json} is larger than 1 MiB")
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{from_json} is not UTF-8 JSON: {exc}", message_zh="JSON 文件无效") from exc
        if not isinstance(doc, dict) or not all(isinstance(v, str | int) for v in doc.values()):
            raise InputError(f"{from_json} must hold one object of text values", message_zh="JSON 须为一个对象")
        values.update({str(k): str(v) for k, v in doc.items()})
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--field expects key=value, got {item!r}", message_zh="--field 须为 键=值")
        values[key.strip()] = value
    return values


def _field_problems(type_code: str, values: dict[str, str]) -> None:
    """Every problem of a single issue's ``--field`` values at once (unknown, missing, malformed)."""
    from elicense.catalog import Catalog
    from elicense.errors import LicenceDataError
    from elicense.registry.batch import RESERVED_COLUMNS, header_names

    lt = Catalog.default().get(type_code)
    names = header_names(lt)
    en: list[str] = []
    zh: list[str] = []
    row: dict[str, str] = {}
    for key, value in values.items():
        column = names.get(key.strip())
        if column is None:
            en.append(f"{key!r} is not a field of {lt.slug}")
            zh.append(f"{lt.name_zh}没有字段 {key!r}")
        else:
            row[column] = value
    for column, label in (("source_id", "来源编号"), ("holder_name", "持证主体"), ("holder_code", "持证主体代码")):
        if not row.get(column, "").strip():
            en.append(f"{column} is required")
            zh.append(f"{label}（{column}）为必填")
    try:
        lt.validate_fields({k: v for k, v in row.items() if k not in RESERVED_COLUMNS and v.strip()})
    except LicenceDataError as exc:
        for p in exc.details.get("problems", ()):
            en.append(str(p["message"]))
            zh.append(str(p["message_zh"]))
    if en:
        raise LicenceDataError(
            f"{len(en)} problem{'s' if len(en) > 1 else ''} with the fields: "
            + "; ".join(en)
            + f" (see 'elicense types show {lt.slug}')",
            message_zh=f"字段有 {len(zh)} 处问题：" + "；".join(zh) + f"（参见 'elicense types show {lt.slug}'）",
            details={"problems": en},
        )


def _authority_for_alg(home: Home, type_code: str, authority_code: str | None, alg: str, pdf_dir: Path | None) -> str:
    """``--alg``: the named authority must sign with it, else the first of that type that does (issue 10)."""
    from elicense.catalog import Catalog
    from elicense.crypto.algorithms import Algorithm

    wanted = Algorithm.from_label(alg)
    if pdf_dir is not None and wanted is Algorithm.SM2:
        raise UsageError(
            "--pdf cannot be signed with SM2 (PDF signatures need CMS, which has no SM2 here): "
            "seal the licence with `elicense sm2` instead",
            message_zh="PDF 签名暂不支持 SM2",
        )
    code = Catalog.default().get(type_code).code
    entries = [home.authority(authority_code)] if authority_code else [
        a for a in home.authorities if code in a.licence_types]  # fmt: skip
    for entry in entries:
        if home.algorithm(entry) is wanted:
            return str(entry.code)
    who = entries[0].name if authority_code and entries else f"no authority that may issue {code}"
    raise UsageError(f"{who} in {home.path}: no {wanted.label} signing key "
                     f"(an {wanted.label} home: `elicense demo --alg {alg.lower()}`)",
                     message_zh=f"签发目录中没有 {wanted.label} 签名密钥")  # fmt: skip


def _documents(
    home: Home, type_code: str, authority_code: str | None, at: dt.datetime,
    pdf_dir: Path | None, pdf_level: str, tsa_url: str | None, ofd_dir: Path | None,
) -> DocumentSpec | None:  # fmt: skip
    """What each worker writes per licence: signed PDFs (``--pdf``) or sealed OFDs (``--ofd``), or nothing."""
    from elicense.catalog import Catalog
    from elicense.documents import OfdDocuments, PdfDocuments, check_pdf_level

    check_pdf_level(pdf_dir, pdf_level, tsa_url)
    if pdf_dir is None and ofd_dir is None:
        return None
    code = Catalog.default().get(type_code).code
    entry = home.authority(authority_code) if authority_code else home.authority_for_type(code)
    if pdf_dir is not None:
        return PdfDocuments(home, entry.code, pdf_dir, pdf_level, tsa_url, at)
    assert ofd_dir is not None
    return OfdDocuments(home, entry.code, ofd_dir)


@click.command("issue")
@home_option
@db_option
@click.option("--type", "type_code", required=True, help="Licence type code or slug.")
@click.option(
    "--authority",
    "authority_code",
    default=None,
    help="Issuing authority (default: the first that may issue the type).",
)
@click.option(
    "--batch",
    "batch_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="CSV file (UTF-8 or GB18030) with a source_id column.",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Issuing processes: this one and N-1 started for the job.",
)  # fmt: skip
@click.option("--encoding", type=click.Choice(["auto", "utf-8", "gb18030"]), default="auto", show_default=True)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write rejected rows (default FILE.report.csv).",
)
@click.option(
    "--pdf",
    "pdf_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write a signed PDF per licence into this directory.",
)
@click.option(
    "--ofd",
    "ofd_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write a sealed OFD (GB/T 33190, GB/T 38540 seal) per licence into this directory (an SM2 home).",
)
@pdf_level_option("pdf_level", "PAdES level of the --pdf PDFs")
@tsa_url_option
@click.option(
    "--field", "fields", multiple=True, metavar="KEY=VALUE", help="Single issue: a column value (repeatable)."
)
@click.option(
    "--from-json",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Single issue: a JSON object of column values.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Single issue: write <id>.qr.txt here.",
)
@click.option(
    "--alg",
    "alg",
    type=click.Choice(["es256", "eddsa", "ps256", "sm2"], case_sensitive=False),
    default=None,
    help="Sign with this algorithm: picks an authority whose key is of it (default: the authority's).",
)
@click.option("--actor", default=None, help="Who is issuing, for the audit log (default $ELICENSE_ACTOR or user@host).")
@click.option(
    "--progress/--no-progress", "show_progress", default=None, help="Progress line on stderr (default: on a terminal)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no summary: errors only (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def issue_cmd(
    home_dir: Path, db: str | None, type_code: str, authority_code: str | None, batch_file: Path | None,
    workers: int, encoding: str, report_path: Path | None, pdf_dir: Path | None, fields: tuple[str, ...],
    from_json: Path | None, out_dir: Path | None, actor: str | None, show_progress: bool | None, as_json: bool,
    alg: str | None = None, pdf_level: str = "B-B", tsa_url: str | None = None, ofd_dir: Path | None = None,
    quiet: bool = False,
) -> int:  # fmt: skip
    """Issue licences into the registry: one (--field / --from-json) or a CSV batch (--batch)."""
    if batch_file is not None and workers > 1:
        from elicense import processes

        # the workers' fork server imports (SQLAlchemy, pyHanko: ~1 s) while this process does the same
        processes.start_early(processes.PDF_MODULES if pdf_dir else processes.OFD_MODULES if ofd_dir else ())
    from elicense.catalog import Catalog
    from elicense.home import Home
    from elicense.registry import url_for
    from elicense.registry.batch import BatchInterrupted, default_actor, issue_one, run_batch

    Catalog.default().get(type_code)  # a wrong --type lists the valid ones before anything else
    home = Home.load(home_dir)
    if ofd_dir is not None:
        if pdf_dir is not None:
            raise UsageError(
                "--pdf and --ofd cannot be combined: an authority signs PDFs (ES256/EdDSA/PS256) or seals OFDs (SM2)",
                message_zh="--pdf 与 --ofd 不能同用：PDF 用 ES256 等签名，OFD 用 SM2 电子印章",
            )
        from elicense.documents import require_seals

        require_seals(home)  # before anything is issued
    if alg is not None:
        authority_code = _authority_for_alg(home, type_code, authority_code, alg, pdf_dir)
    url = url_for(home, db)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    who = actor or default_actor()
    zh = default_lang() == "zh"
    if batch_file is not None:
        if fields or from_json:
            raise UsageError("--batch cannot be combined with --field / --from-json")
        documents = _documents(home, type_code, authority_code, at, pdf_dir, pdf_level, tsa_url, ofd_dir)
        enabled = False if quiet else show_progress
        line = None
        if enabled or (enabled is None and sys.stderr.isatty()):
            line = _ProgressLine(zh=zh, tty=sys.stderr.isatty())
        try:
            report = run_batch(
                batch_file.read_bytes(), home=home, url=url, type_code=type_code, at=at, actor=who,
                authority_code=authority_code, workers=workers, encoding=encoding,
                report_path=report_path or batch_file.with_name(batch_file.name + ".report.csv"),
                documents=documents, progress=line,
            )  # fmt: skip
        except BatchInterrupted as exc:
            if line is not None:
                line.close()
                line = None
            echo_err(_interrupted_hint(exc.progress, zh=zh, kind=documents.kind if documents else None))
            raise
        finally:
            if line is not None:
                line.close()
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        elif not quiet:
            d: dict[str, Any] = report.to_dict()
            text = (
                f"共 {d['total']} 行：签发 {d['issued']}，已签发跳过 {d['already_issued']}，拒绝 {d['rejected']}"
                if zh else
                f"{d['total']} rows: issued {d['issued']}, already issued {d['already_issued']}, "
                f"rejected {d['rejected']}"
            )  # fmt: skip
            if d["per_second"]:
                text += f" ({d['per_second']}/s)"
            click.echo(text)
            if report.report_path:
                click.echo(("拒绝原因见 " if zh else "rejected rows: ") + str(report.report_path))
        nothing_left_open()  # the job closed its registry, pool and files: the process may end at once
        return EXIT_INVALID if report.rejected else 0
    values = _single_values(fields, from_json)
    if not values:
        raise UsageError("give --batch FILE, or the licence with --field key=value / --from-json FILE")
    from elicense.documents import check_pdf_level

    check_pdf_level(pdf_dir, pdf_level, tsa_url)  # option errors first, then every field problem at once
    _field_problems(type_code, values)
    documents = _documents(home, type_code, authority_code, at, pdf_dir, pdf_level, tsa_url, ofd_dir)
    result = issue_one(values, home=home, url=url, type_code=type_code, at=at, actor=who,
                       authority_code=authority_code, documents=documents)  # fmt: skip
    if out_dir is not None:
        from elicense.crypto.keys import atomic_write

        atomic_write(out_dir / f"{result.licence_id}.qr.txt", (result.qr_payload + "\n").encode("ascii"))
    if as_json:
        click.echo(json.dumps({"id": result.licence_id, "created": result.created, "qr_payload": result.qr_payload}))
    else:
        click.echo(result.licence_id)
        if not result.created and not quiet:
            click.echo("已签发过，未重复签发" if zh else "already issued: nothing new signed", err=True)
    return 0
