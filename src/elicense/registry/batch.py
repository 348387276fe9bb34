"""Bulk issuance from CSV (存量证照电子化): validate every row before it is signed, issue exactly once.

The pipeline:

1. decode the file (UTF-8, with or without BOM, else GB18030), parse it as CSV with
   bounded field sizes; map the header (catalogue field keys, reserved column names,
   or their Chinese labels) and refuse unknown columns;
2. settle the cross-row checks (duplicate ``source_id``/licence ids within the file:
   :class:`_Triage`, as the file is read); every row is then validated into a licence (:func:`plan_row`) by the
   worker that issues it; bad rows go to a report CSV with row number and reason (written
   when the job ends); good rows whose ``source_id`` the registry already holds are skipped;
3. issue the rest in small transactions (licence + status index + audit entry commit
   together), in this process and, with ``workers`` > 1, in worker processes beside it; a kill -9
   loses at most the open transactions, and a re-run issues exactly the rows that are missing.

Columns (see ``examples/paper-era-business-licences.csv``): ``source_id`` (required),
``holder_name``, ``holder_code``, optional ``holder_type``, ``number``, ``serial``,
``version``, ``issued_on``, ``valid_from``, ``valid_until`` (empty: the type's default
or long-term; ``长期`` / ``long-term``), ``supersedes``, ``licence_id`` (a paper-era
identifier to keep: its check character is verified, a wrong one is reported, never
fixed), plus the type's catalogue fields by key or Chinese label.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import gc
import getpass
import hashlib
import io
import os
import re
import secrets
import signal
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing import util
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import event

from elicense import _crashpoint
from elicense.catalog import Catalog
from elicense.crypto.keys import atomic_write, key_id
from elicense.display import csv_cell
from elicense.errors import ElicenseError, InputError, LicenceDataError, StorageError, UsageError
from elicense.identifiers import LicenceId, ResidentId
from elicense.issue import IssuedLicence, LicenceBuilder, sign_licences
from elicense.model import Authority, Holder, HolderType, Licence, Validity, china_date, require_utc
from elicense.processes import start_early, worker_context
from elicense.registry.core import MAX_FILL, DuplicateLicence, Registry, RegistryError, WriteConflict, prepare_issued
from elicense.registry.store import SQLITE_BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized

    from elicense.catalog import LicenceType
    from elicense.crypto.keys import Signer
    from elicense.registry.core import ChainWriter

MAX_FILE_BYTES = 1 << 30
"""Largest accepted CSV file (1 GiB)."""
MAX_FIELD_CHARS = 20_000
"""Largest CSV cell (the longest catalogue text field)."""
MAX_COLUMNS = 200
"""Most columns in a CSV header."""
PDF_CHUNK_ROWS = 8
"""Rows per unit of work when each row also renders and signs a PDF (progress moves every ~0.3 s)."""
QR_CHUNK_ROWS = 800
"""Rows per unit of work without documents (two transactions; progress moves every ~0.2 s)."""
DEFAULT_COMMIT_EVERY = 400
"""Rows per transaction: small enough to lose little on a crash (a tenth of a second of signing) and to
hold the write lock briefly (~8 ms on SQLite, ~16 ms on PostgreSQL), large enough that the commit and
the statements' fixed cost are spread thin. Each commit writes every page it touched once: the tables'
last pages, the chain's head, and a leaf of each random-key index per row. 400 rather than 100: a
licence cost 264 → 220 µs at 100,000 rows on one worker (3,469 → 4,289 /s), 6,090 → 7,393 /s on two
(A/B runs of :func:`run_batch`, a fresh process each)."""

RESERVED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "source_id": ("来源编号", "业务编号"),
    "holder_name": ("持证主体", "名称"),
    "holder_code": ("持证主体代码", "统一社会信用代码"),
    "holder_type": ("持证主体代码类型",),
    "number": ("证照编号",),
    "serial": ("顺序号",),
    "version": ("版本号",),
    "issued_on": ("签发日期", "发证日期"),
    "valid_from": ("有效期起始", "有效期自"),
    "valid_until": ("有效期截止", "有效期至"),
    "supersedes": ("被替代证照标识",),
    "licence_id": ("证照标识",),
}
"""Reserved column → accepted Chinese header aliases."""

_LONG_TERM = {"长期", "long-term", "longterm", "长期有效", "永久"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
_SERIAL_RE = re.compile(r"[0-9A-Z]{1,32}")


class BatchError(InputError):
    """The batch file as a whole is unusable (encoding, header, size)."""

    code = "batch"


@dataclass(frozen=True)
class RowProblem:
    """A row that was not issued, and why."""

    row: int
    """Data row number (1 = first row after the header)."""
    line: int
    """Physical line in the file where the row ends."""
    source_id: str
    """The row's source id (empty when missing)."""
    reason: str
    """Why it was rejected (English)."""
    reason_zh: str
    """Why it was rejected (Chinese)."""


@dataclass(frozen=True)
class BatchRow:
    """A validated row, as sent to a worker (plain data: picklable)."""

    row: int
    """Data row number."""
    values: Mapping[str, str]
    """Column key → raw text."""
    licence_id: str
    """The licence id the row will get."""
    licence: Licence | None = None
    """The validated :class:`~elicense.model.Licence` (no status index yet): rows are planned once."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle for worker processes (a Licence's fields are a mapping proxy, which pickle refuses)."""
        lic = self.licence
        packed = None
        if lic is not None:
            packed = {f.name: getattr(lic, f.name) for f in dataclasses.fields(lic)}
            packed["fields"] = dict(lic.fields)
        return (_unpack_row, (self.row, dict(self.values), self.licence_id, packed))


def _unpack_row(row: int, values: dict[str, str], licence_id: str, packed: dict[str, Any] | None) -> BatchRow:
    return BatchRow(row, values, licence_id, None if packed is None else Licence(**packed))


@dataclass(frozen=True)
class BatchPlan:
    """Validated content of a batch file."""

    type_code: str
    """Licence type."""
    authority_code: str
    """Issuing authority."""
    total: int
    """Data rows in the file."""
    rows: tuple[BatchRow, ...]
    """Valid rows (including those already issued)."""
    problems: tuple[RowProblem, ...]
    """Rejected rows."""
    encoding: str
    """Detected encoding."""


@dataclass(frozen=True)
class BatchReport:
    """Outcome of :func:`run_batch`."""

    total: int
    """Data rows in the file."""
    valid: int
    """Rows that validated."""
    rejected: int
    """Rows rejected (see the report file)."""
    issued: int
    """Licences issued by this run."""
    already_issued: int
    """Valid rows whose source id the registry already held (not issued again)."""
    seconds: float
    """Wall time of the job (the file is read as its rows are issued)."""
    report_path: Path | None
    """Where rejected rows were written (``None`` if none)."""
    encoding: str
    """Detected input encoding."""
    pdfs: int = 0
    """PDFs written."""
    licence_ids: tuple[str, ...] = field(default_factory=tuple)
    """Ids issued by this run (first 1,000)."""
    ofds: int = 0
    """OFDs written."""
    cpu_seconds: float = 0.0
    """CPU time (user + system) of the job: this process and its worker processes."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "valid": self.valid,
            "rejected": self.rejected,
            "issued": self.issued,
            "already_issued": self.already_issued,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.issued / self.seconds, 1) if self.seconds > 0 else None,
            "report": str(self.report_path) if self.report_path else None,
            "encoding": self.encoding,
            "pdfs": self.pdfs,
            "ofds": self.ofds,
        }


# --------------------------------------------------------------------------- reading


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM stripped) if it decodes, else GB18030."""
    if encoding not in ("auto", "utf-8", "gb18030"):
        raise UsageError(f"unsupported encoding {encoding!r} (auto, utf-8, gb18030)")
    if encoding in ("auto", "utf-8"):
        try:
            return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            if encoding == "utf-8":
                raise BatchError(f"not UTF-8 at byte {exc.start}", message_zh="文件不是 UTF-8 编码") from exc
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise BatchError(
            f"neither UTF-8 nor GB18030 (byte {exc.start})",
            message_zh="文件既不是 UTF-8 也不是 GB18030 编码",
        ) from exc


def read_rows(text: str, known: Mapping[str, str]) -> tuple[list[str], Iterator[tuple[int, int, list[str] | str]]]:
    """Header keys and an iterator of ``(row, line, cells | error)``.

    ``known`` maps accepted header names (keys and aliases) to keys. Unknown or repeated
    columns, and a missing ``source_id``, reject the whole file: a misspelt column must
    not silently drop data.
    """
    if "\x00" in text:
        raise BatchError("the file contains NUL characters (not a CSV text file)", message_zh="文件含 NUL 字符")
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise BatchError("the CSV file is empty", message_zh="CSV 文件为空") from None
    except csv.Error as exc:
        raise BatchError(f"bad CSV header: {exc}", message_zh="CSV 表头格式错误") from exc
    if len(header) > MAX_COLUMNS:
        raise BatchError(f"more than {MAX_COLUMNS} columns", message_zh="列数过多")
    keys: list[str] = []
    for name in header:
        key = known.get(name.strip()) or known.get(name.strip().lower())
        if key is None:
            raise BatchError(
                f"unknown column {name.strip()!r}",
                message_zh=f"未知列：{name.strip()!r}",
                details={"column": name},
            )
        if key in keys:
            raise BatchError(f"column {key!r} appears twice", message_zh=f"列 {key!r} 重复")
        keys.append(key)
    if "source_id" not in keys:
        raise BatchError(
            "the CSV needs a source_id column (the business key)",
            message_zh="CSV 缺少 source_id（来源编号）列",
        )

    def rows() -> Iterator[tuple[int, int, list[str] | str]]:
        n = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                n += 1
                yield n, reader.line_num, f"malformed CSV: {exc}"
                continue
            if not cells or (not cells[0].strip() and all(not c.strip() for c in cells)):
                continue
            n += 1
            if len(cells) != len(keys):
                yield n, reader.line_num, f"has {len(cells)} cells, the header has {len(keys)}"
            else:
                yield n, reader.line_num, cells

    return keys, rows()


def header_names(licence_type: LicenceType) -> dict[str, str]:
    """Accepted header names → column keys for a licence type."""
    names: dict[str, str] = {}
    for key, aliases in RESERVED_COLUMNS.items():
        names[key] = key
        for a in aliases:
            names[a] = key
    for f in licence_type.fields:
        names[f.key] = f.key
        names.setdefault(f.name_zh, f.key)
    return names


# --------------------------------------------------------------------------- one row


def _date(value: str, what: str) -> dt.date:
    value = value.strip()
    if len(value) == 10 and value[4] == value[7] == "-" and value.isascii() and value.replace("-", "").isdigit():
        try:  # YYYY-MM-DD, the common case: what strptime("%Y-%m-%d") accepts, without its regex machinery
            return dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise _RowError(f"{what} {value!r} is not a date (YYYY-MM-DD)", f"{what} {value!r} 不是日期")


class _RowError(Exception):
    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


def derive_serial(values: Mapping[str, str]) -> str:
    """The licence id's serial: ``serial``, else the number if 0-9A-Z, else from ``source_id``.

    Derived serials are a hash of the source id, so a re-run gives the same licence id.
    """
    serial = values.get("serial", "").strip().upper()
    if serial:
        return serial
    number = values.get("number", "").strip().upper()
    if _SERIAL_RE.fullmatch(number):
        return number
    digest = hashlib.sha256(("source/" + values["source_id"].strip()).encode("utf-8")).digest()
    return "S" + str(int.from_bytes(digest[:10], "big")).zfill(25)[:25]


@functools.lru_cache(maxsize=16)
def _china_today(at: dt.datetime) -> dt.date:
    """:func:`china_date` of a job's time (the same for every row of it)."""
    return china_date(at)


def plan_row(
    values: Mapping[str, str],
    *,
    licence_type: LicenceType,
    authority: Authority,
    at: dt.datetime,
    status_index: int | None = None,
) -> Licence:
    """Validate one row and build its :class:`~elicense.model.Licence` (raises ``_RowError``)."""
    source_id = values.get("source_id", "").strip()
    if not source_id:
        raise _RowError("source_id is empty", "来源编号为空")
    name, code = values.get("holder_name", "").strip(), values.get("holder_code", "").strip()
    if not name or not code:
        raise _RowError("holder_name and holder_code are required", "持证主体名称和代码为必填")
    try:
        htype_text = values.get("holder_type", "").strip()
        if htype_text:
            htype = HolderType(htype_text)
        elif len(licence_type.holder_types) == 1:
            htype = HolderType(licence_type.holder_types[0])
        else:
            try:
                ResidentId.parse(code)
                htype = HolderType.RESIDENT_ID
            except ElicenseError:
                htype = HolderType.USCC
        today = _china_today(at)
        issued_on = _date(values["issued_on"], "issued_on") if values.get("issued_on", "").strip() else today
        if issued_on > today:
            raise _RowError(f"issued_on {issued_on} is in the future", f"签发日期 {issued_on} 晚于今天")
        start = _date(values["valid_from"], "valid_from") if values.get("valid_from", "").strip() else issued_on
        until_text = values.get("valid_until", "").strip()
        end: dt.date | None
        if until_text.lower() in _LONG_TERM:
            end = None
        elif until_text:
            end = _date(until_text, "valid_until")
        elif licence_type.default_years:
            try:
                end = start.replace(year=start.year + licence_type.default_years) - dt.timedelta(days=1)
            except ValueError:  # 29 February
                end = start.replace(year=start.year + licence_type.default_years, day=28)
        else:
            end = None
        builder = LicenceBuilder.of(
            licence_type=licence_type,
            holder=Holder(name, code, htype),
            issuer=authority,
            issued_on=issued_on,
            validity=Validity(start, end),
            source_id=source_id,
            fields={k: v for k, v in values.items() if k not in RESERVED_COLUMNS and v.strip()},
        )
        paper_id = values.get("licence_id", "").strip()
        if paper_id:
            lid = LicenceId.parse(paper_id)
            if lid.type_code != licence_type.code or lid.issuer_code != authority.code:
                raise _RowError(
                    f"licence_id {paper_id} is of another type or issuer than this batch",
                    f"证照标识 {paper_id} 的类型或发证机构与本批次不符",
                )
            builder = builder.serial(lid.serial).version(lid.version)
        else:
            builder = builder.serial(derive_serial(values))
            if values.get("version", "").strip():
                v = values["version"].strip()
                if not v.isdigit():
                    raise _RowError(f"version {v!r} is not a number", f"版本号 {v!r} 不是数字")
                builder = builder.version(int(v))
        if values.get("number", "").strip():
            builder = builder.number(values["number"])
        if values.get("supersedes", "").strip():
            builder = builder.supersedes(values["supersedes"].strip())
        if status_index is not None:
            builder = builder.status_index(status_index)
        return builder.build()
    except ElicenseError as exc:
        raise _RowError(exc.message, exc.message_zh or exc.message) from exc
    except ValueError as exc:
        raise _RowError(str(exc), str(exc)) from exc


# --------------------------------------------------------------------------- planning


_Item = tuple[int, int, "list[str] | str"]
"""A parsed CSV row: (row number, line, cells or a parse error)."""
_Planned = tuple[int, int, str, "BatchRow | None", "tuple[str, str] | None"]
"""A planned row: (row number, line, source id, the row or ``None``, (reason, reason_zh) or ``None``)."""


def parse_batch(
    data: bytes, *, licence_type: LicenceType, encoding: str = "auto"
) -> tuple[list[str], list[_Item], str]:
    """Decode and parse a batch file: header keys, rows, encoding (file-level problems raise)."""
    keys, rows, enc = _open_rows(data, licence_type=licence_type, encoding=encoding)
    return keys, list(rows), enc


def _open_rows(data: bytes, *, licence_type: LicenceType, encoding: str) -> tuple[list[str], Iterator[_Item], str]:
    """:func:`parse_batch` with the rows still to be read (every file-level problem raises here)."""
    if len(data) > MAX_FILE_BYTES:
        raise BatchError(f"file larger than {MAX_FILE_BYTES} bytes", message_zh="文件过大")
    text, enc = decode(data, encoding)
    keys, rows = read_rows(text, header_names(licence_type))
    return keys, rows, enc


def _line_count(data: bytes) -> int:
    """Line ends in ``data`` (CR LF, LF or CR, as the CSV reader takes them): at least its data rows (a row
    takes a line at least, and so does the header), in either encoding (no multi-byte character of UTF-8
    or GB18030 holds a CR or LF byte)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def plan_items(
    keys: Sequence[str], items: Sequence[_Item], *, licence_type: LicenceType, authority: Authority, at: dt.datetime
) -> list[_Planned]:
    """Validate parsed rows one by one (no cross-row checks: those are :func:`assemble_plan`'s)."""
    out: list[_Planned] = []
    for n, line, cells in items:
        if isinstance(cells, str):
            out.append((n, line, "", None, (cells, cells)))
            continue
        values = dict(zip(keys, cells, strict=True))
        sid = values.get("source_id", "").strip()
        try:
            licence = plan_row(values, licence_type=licence_type, authority=authority, at=at)
        except _RowError as exc:
            out.append((n, line, sid, None, (exc.en, exc.zh)))
            continue
        out.append((n, line, sid, BatchRow(n, values, str(licence.id), licence), None))
    return out


def assemble_plan(
    planned: Sequence[_Planned], *, type_code: str, authority_code: str, total: int, encoding: str
) -> BatchPlan:
    """Cross-row checks (repeated source ids and licence ids) over planned rows, in file order."""
    good: list[BatchRow] = []
    problems: list[RowProblem] = []
    seen_source: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for n, line, sid, row, problem in planned:
        if row is None:
            en, zh = problem or ("invalid row", "无效行")
            problems.append(RowProblem(n, line, sid, en, zh))
            continue
        lid = row.licence_id
        if sid in seen_source:
            problems.append(_source_repeats(n, line, sid, seen_source[sid]))
            continue
        if lid in seen_id:
            problems.append(_id_repeats(n, line, sid, lid, seen_id[lid]))
            continue
        seen_source[sid] = n
        seen_id[lid] = n
        good.append(row)
    return BatchPlan(type_code, authority_code, total, tuple(good), tuple(problems), encoding)


def _source_repeats(n: int, line: int, sid: str, prior: int) -> RowProblem:
    return RowProblem(n, line, sid, f"source_id repeats row {prior}", f"来源编号与第 {prior} 行重复")


def _id_repeats(n: int, line: int, sid: str, lid: str, prior: int) -> RowProblem:
    return RowProblem(n, line, sid, f"licence id {lid} repeats row {prior}", f"证照标识与第 {prior} 行重复")


def plan_batch(
    data: bytes,
    *,
    licence_type: LicenceType,
    authority: Authority,
    at: dt.datetime,
    encoding: str = "auto",
) -> BatchPlan:
    """Decode, parse and validate a whole batch file (no database access)."""
    keys, items, enc = parse_batch(data, licence_type=licence_type, encoding=encoding)
    planned = plan_items(keys, items, licence_type=licence_type, authority=authority, at=at)
    return assemble_plan(planned, type_code=licence_type.code, authority_code=authority.code,
                         total=items[-1][0] if items else 0, encoding=enc)  # fmt: skip


def write_report(path: Path, problems: Sequence[RowProblem]) -> None:
    """Rejected rows as UTF-8 CSV (row, line, source_id, reason, reason_zh), written atomically.

    Cells come from the uploaded file (a source id, a value quoted in a reason): a cell starting with a
    formula prefix (``= + - @``, tab, CR) is written with a leading ``'`` (OWASP CSV injection)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["row", "line", "source_id", "reason", "reason_zh"])
    for p in problems:
        w.writerow([csv_cell(v) for v in (p.row, p.line, p.source_id, p.reason, p.reason_zh)])
    atomic_write(path, buf.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------- issuing


class IssuerEntry(Protocol):
    """An issuing authority as issuance needs it (:class:`elicense.home.AuthorityEntry` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def seal_name(self) -> str: ...
    @property
    def licence_types(self) -> tuple[str, ...]: ...
    @property
    def authority(self) -> Authority: ...


_E = TypeVar("_E", bound=IssuerEntry)


class IssuerHome(Protocol[_E]):
    """Where the authorities and their keys are (:class:`elicense.home.Home` is one; picklable, so a
    worker process unlocks the key itself: the key never crosses a process boundary)."""

    def authority(self, code_or_name: str) -> _E: ...
    def authority_for_type(self, type_code: str) -> _E: ...
    def signer(self, entry: _E) -> Signer: ...


class DocumentWriter(Protocol):
    """Writes the document files (PDF, OFD, ...) of issued licences; one per worker process."""

    @property
    def kind(self) -> str:
        """``pdf`` or ``ofd``: what :attr:`BatchReport.pdfs` / :attr:`BatchReport.ofds` count."""
        ...

    def missing(self, licence_id: str) -> bool:
        """Whether the licence's document is still to be written."""
        ...

    def write(self, issued: IssuedLicence) -> bool:
        """Write the document of ``issued`` unless it exists; ``True`` if written."""
        ...


class DocumentSpec(Protocol):
    """A picklable description of a :class:`DocumentWriter` (e.g. :class:`elicense.documents.PdfDocuments`):
    sent to each worker, which opens it once and writes every document of its chunks with it."""

    @property
    def kind(self) -> str:
        """As the writer's."""
        ...

    @property
    def preload(self) -> tuple[str, ...]:
        """Modules the writer imports (a fork server imports them once, before starting the workers)."""
        ...

    def open_writer(self) -> DocumentWriter:
        """The writer (unlocked keys, TSA client, fonts and seal made ready once)."""
        ...


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch job is (passed to ``run_batch(progress=...)`` after every chunk)."""

    phase: str
    """``issuing`` (rows), then ``documents`` (files of rows issued by earlier runs, if any were missing)."""
    done: int
    """Rows of this phase processed."""
    total: int
    """Rows of this phase (while the file is being read, at most its line count: exact once read)."""
    issued: int
    """Licences issued by this run so far."""
    skipped: int
    """Rows already issued (by an earlier run or concurrently): not issued again."""
    rejected: int
    """Rows rejected by validation (see the report file)."""
    documents: int
    """Document files written so far."""
    elapsed: float
    """Seconds since issuing started."""


class BatchInterrupted(KeyboardInterrupt):
    """The job was interrupted (Ctrl-C): committed rows stay issued, and a re-run resumes the job."""

    def __init__(self, progress: BatchProgress) -> None:
        super().__init__("interrupted")
        self.progress = progress


@dataclass(frozen=True)
class _Job:
    """What every worker of one job is given (picklable; each worker builds its :class:`_Worker` once)."""

    url: str
    entry: IssuerEntry
    unlock: Callable[[], Signer]
    """Unlocks the authority's key in the worker (``functools.partial(home.signer, entry)``)."""
    type_code: str
    at: dt.datetime
    actor: str
    documents: DocumentSpec | None = None
    columns: tuple[str, ...] = ()
    """The batch file's header keys (a worker maps the cells of the rows it is sent with them)."""
    stride: int = 1
    """Processes issuing this job at once: each draws status indexes from its own residue class modulo
    ``stride`` (:func:`_draw`), so two of them never pick the same index."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    """This process's environment when the job began (``$ELICENSE_PASSPHRASE`` …): a worker forked from a
    long-lived fork server gets it as a spawned one would, not the server's older copy."""


@dataclass
class _Worker:
    """Per-process state: registry, signer, catalogue entry, document writer (built once per process)."""

    registry: Registry
    entry: IssuerEntry
    signer: Signer
    licence_type: LicenceType
    catalog: Catalog
    at: dt.datetime
    actor: str
    documents: DocumentWriter | None = None
    """Writes the job's PDFs or OFDs after each commit (``None``: QR payloads only)."""
    kid: str = ""
    """Hex key id of the signer (computed once, not parsed back from every signature)."""
    size: int = 0
    """Status-list length this worker draws from (refreshed when the list grows)."""
    taken: bytearray = field(default_factory=bytearray)
    """Bitmap of status indexes known to be taken (loaded once, kept up to date by this worker)."""
    known: int = 0
    """Bits set in :attr:`taken` (a lower bound of the list's use: decides when to grow it)."""
    writes: int = 0
    """Write transactions this worker ran."""
    checkpoints: int = 0
    """WAL checkpoints this worker ran (SQLite)."""
    restart_every: int = 1
    """Checkpoints between two WAL restarts (SQLite; doubles while outside readers make restarts give up)."""
    next_restart: int = 1
    """The checkpoint count at which this worker next restarts the WAL."""
    complete: bool = True
    """Whether :attr:`taken` started as every index taken (else growth is checked on collisions)."""
    lock_fd: int | None = None
    """SQLite only: a lock file serialising this job's writers (blocking, no busy-wait polling)."""
    columns: tuple[str, ...] = ()
    """The job's header keys (:attr:`_Job.columns`)."""
    slot: int = 0
    """This process's residue class of status indexes (0: the calling process; pool workers 1 …)."""
    stride: int = 1
    """:attr:`_Job.stride`."""

    @property
    def pdf_dir(self) -> DocumentWriter | None:
        """Not ``None`` when the job writes documents (:func:`_issue_chunk` asks; PDF or OFD alike)."""
        return self.documents


_STATE: _Worker | None = None
"""This process's worker (the pool initializer's only way to hand state to the tasks)."""


def _init_worker(job: _Job, bitmap: bool = True, pool: bool = False, slots: Synchronized[int] | None = None) -> None:
    """Per-process state; ``bitmap=False`` (one licence) skips reading the list's taken indexes.

    ``pool``: a pool worker ignores Ctrl-C (the terminal sends it to the whole process group): the
    parent stops handing out chunks and lets the running ones commit. ``slots``: the pool's shared
    counter, from which each pool worker takes its residue class of status indexes (1, 2, …).
    """
    if not pool:
        _setup(job, bitmap)
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(job.environ)
    slot = 0
    if slots is not None:
        with slots.get_lock():
            slots.value += 1
            slot = int(slots.value)
    try:
        _setup(job, bitmap, slot % job.stride)
    except ElicenseError:
        # the parent reports it (run_batch opens the writer itself on a broken pool): no traceback here
        os._exit(EXIT_SETUP_FAILED)
    # as the worker exits (multiprocessing ends it without the interpreter's teardown): its chain's end is
    # recorded and its database connections closed; the last SQLite connection to close checkpoints the WAL
    # and removes it, else the job left registry.sqlite-wal beside the database, holding its last commits
    util.Finalize(None, _close_worker, exitpriority=10)
    # everything inherited from the fork server and built by the set-up lives as long as the worker: out of
    # the collector's sight, its full collections no longer walk (and copy-on-write) the inherited heap
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLD)


BULK_GC_THRESHOLD = (10_000, 10, 10)
"""Collector thresholds while issuing: a licence allocates ~100 container objects that die by reference
count; Python's default (a young collection every 700 allocations) spends ~5% of a bulk row on finding
that out. Cycles are still collected, only less often."""


@contextmanager
def _collector_for_bulk() -> Iterator[None]:
    """Issuing in this process: the caller's heap out of the collector's sight (``gc.freeze``) and
    :data:`BULK_GC_THRESHOLD`, both restored when the job ends (a caller that froze objects of its own,
    as a pre-forking server does, finds them still frozen)."""
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(*BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen:
            gc.unfreeze()


EXIT_SETUP_FAILED = 3
"""Exit status of a pool worker that could not set up (its parent then says why)."""


def _setup(job: _Job, bitmap: bool, slot: int = 0) -> None:
    """The worker state of this process for ``job`` (``slot``: its residue class of status indexes)."""
    global _STATE
    catalog = Catalog.default()
    signer = job.unlock()
    documents = job.documents.open_writer() if job.documents is not None else None
    registry = Registry.open(job.url)
    if registry.dialect == "sqlite" and bitmap:
        _checkpoint_after_commits(registry)
    size = registry.ensure_status_list(job.entry.code, at=job.at)
    taken = registry.taken_status_bitmap(job.entry.code, size) if bitmap else bytearray((size + 7) // 8)
    lock_fd = None
    if registry.dialect == "sqlite" and registry.engine.url.database and hasattr(os, "O_CLOEXEC"):
        try:
            import fcntl  # noqa: F401  (POSIX only; elsewhere SQLite's busy handler serialises)

            lock_fd = os.open(registry.engine.url.database + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (ImportError, OSError):
            lock_fd = None
    _STATE = _Worker(
        registry,
        job.entry,
        signer,
        catalog.get(job.type_code),
        catalog,
        job.at,
        job.actor,
        documents,
        key_id(signer.certificate).hex(),
        size,
        taken,
        int.from_bytes(taken, "big").bit_count(),
        lock_fd=lock_fd,
        complete=bitmap,
        columns=job.columns,
        slot=slot,
        stride=job.stride,
    )


CHECKPOINT_EVERY = 8
"""SQLite: the job checkpoints the WAL after about this many write transactions, of all its writers together
(outside the write lock; see :func:`_checkpoint_due`)."""


def _checkpoint_due(st: _Worker, transactions: int) -> bool:
    """Whether this writer checkpoints after its ``transactions``-th commit: every :data:`CHECKPOINT_EVERY`
    times the job's number of writers (:attr:`_Worker.stride`), each writer offset by its slot.

    A checkpoint copies every WAL frame not yet in the database, the other writers' too: when each of two
    writers checkpointed after 8 of its own commits, the job copied each page about twice as often as one
    writer does, ~28 ms a checkpoint (the database file's fsync included), 6 µs more per licence. Taking
    turns keeps the job's WAL, and its checkpoint work, what one writer's is."""
    every = CHECKPOINT_EVERY * st.stride
    return (transactions + st.slot * CHECKPOINT_EVERY) % every == 0


def _checkpoint_after_commits(registry: Registry) -> None:
    """SQLite: no automatic WAL checkpoint inside this worker's commits.

    SQLite checkpoints in the commit that passes 1,000 WAL pages, under the write lock: ~1.5 ms per
    100-row transaction on average, a third of the time the lock is held and the part two workers
    cannot overlap. The worker instead runs a ``PASSIVE`` checkpoint when :func:`_checkpoint_due` (the
    job's writers take turns), outside the lock (it waits for no reader or writer, and the other worker
    keeps writing meanwhile). Durability is unchanged: a commit is in the WAL either way.
    """

    @event.listens_for(registry.engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    registry.engine.dispose()  # connections opened before the hook get it too (they are reopened)


RESTART_EVERY_MAX = 8
"""A restart that found readers in the way is tried again after twice as many checkpoints, up to this many
(see :func:`_checkpoint`); one that succeeds brings the interval back to every checkpoint."""
RESTART_WAIT_MS = 200
"""How long a restarting checkpoint waits for readers (another process's short reads) before giving up."""


def _checkpoint(st: _Worker) -> None:
    """A ``PASSIVE`` WAL checkpoint (SQLite workers, when :func:`_checkpoint_due`; see above), then a
    ``RESTART`` under the job's writer lock.

    With two writers a passive checkpoint rarely finds the WAL free of the other's snapshot, so the WAL
    never starts over: it grew to 0.6–1.2 GB over 100,000 licences, every page read searched its index,
    and a licence cost up to 1.6× as much with two workers as with one. Under the writer lock no writer
    of the job is in a transaction; the restart waits at most :data:`RESTART_WAIT_MS` for readers.

    ``RESTART``, not ``TRUNCATE``: the next commit writes the WAL from its start over the file's existing
    blocks. Emptying the file made every commit after it extend the file again (the file system allocates
    blocks on the writer's path): with two writers ~16 µs more per licence, two workers at 1.6–1.7× one
    instead of ~1.9× (20,000 rows). Restarting at every checkpoint instead of every fourth keeps the WAL of
    two writers near 60 MB instead of ~200 MB at 100,000 licences. A restart that gives up (an outside
    reader held a snapshot for :data:`RESTART_WAIT_MS`) doubles the interval, up to
    :data:`RESTART_EVERY_MAX`, so a long-lived reader does not cost the job that wait at every checkpoint."""
    raw = st.registry.engine.raw_connection()  # autocommit (no BEGIN): a checkpoint cannot run in a transaction
    try:
        conn = cast("sqlite3.Connection", raw.driver_connection)
        with suppress(sqlite3.Error):  # best effort: the next one, or the last connection's close, does it
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        st.checkpoints += 1
        if st.lock_fd is not None and st.checkpoints >= st.next_restart:
            busy = True
            with _writer_lock(st), suppress(sqlite3.Error):
                conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                try:
                    row = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                    busy = row is None or bool(row[0])
                finally:
                    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            st.restart_every = min(st.restart_every * 2, RESTART_EVERY_MAX) if busy else 1
            st.next_restart = st.checkpoints + st.restart_every
    finally:
        raw.close()


def _ready() -> None:
    """A no-op task: submitting it starts the pool's workers (and their set-up) at once."""


_Work = tuple[int, int, "list[str]", bool, "tuple[str, int] | None"]
"""A row for a worker: (row number, line, cells, already issued, :func:`_id_key` or ``None``)."""


@dataclass(frozen=True)
class _ChunkResult:
    """What a worker sends back for a chunk: ids and counts, never the planned rows."""

    issued: list[str]
    """Licence ids issued."""
    skipped: int
    """Valid rows not issued (already issued, by an earlier run or concurrently)."""
    documents: int
    """Documents written."""
    problems: list[tuple[int, int, str, str, str]]
    """Rejected rows (:class:`RowProblem` fields)."""
    already: list[str]
    """Licence ids of valid rows issued by an earlier run (their documents may be missing)."""
    pid: int = 0
    """The worker process."""
    cpu: float = 0.0
    """Its CPU seconds so far, set-up included (a fork server's children are not this process's to reap)."""


def _id_key(values: Mapping[str, str]) -> tuple[str, int] | None:
    """(serial, version) of the licence id :func:`plan_row` gives this row if it is valid (type and
    issuer are the batch's), ``None`` if that cannot be told without planning the row."""
    paper_id = values.get("licence_id", "").strip()
    if paper_id:
        try:
            lid = LicenceId.parse(paper_id)
        except ElicenseError:
            return None
        return lid.serial, lid.version
    v = values.get("version", "").strip()
    if v and not v.isdigit():
        return None
    try:
        return derive_serial(values).strip().upper(), int(v) if v else 1
    except (KeyError, ValueError):
        return None


_ID_COLUMNS = frozenset({"licence_id", "version", "serial", "number", "source_id"})
"""The columns :func:`_id_key` (and :func:`derive_serial`) read."""


class _Triage:
    """The cross-row checks of :func:`assemble_plan`, settled as the file is read (a repeated source id
    or licence id is rejected after its first valid row), so that issuing starts with the first rows
    read instead of after the whole file.

    Iterating gives the rows for the workers: each row whose source id and licence id
    (:func:`_id_key`) no earlier row had. Its worker plans it alone; whether it is valid comes back
    with the chunk (a rejected row). The few rows that repeat an earlier one's (and those whose id
    cannot be told in advance) are held, and :meth:`resolve` plans them here, once every row has been
    read and every handed-on row planned, in file order, exactly as :func:`plan_batch` does: each is
    rejected if an earlier valid row has its source id or licence id, else it joins the work. Malformed
    rows are reported as they are read. Rows whose source id is already issued go on too, flagged:
    they are still validated (a now-invalid row is reported, not counted as already issued)."""

    def __init__(
        self, keys: Sequence[str], items: Iterator[_Item], problems: list[RowProblem],
        done_sources: Mapping[str, str], *, expected: int,
    ) -> None:  # fmt: skip
        self.keys = keys
        self.items = items
        self.problems = problems
        self.done_sources = done_sources
        self.expected = expected
        """Data rows the file can hold at most (its line count), until it has been read."""
        self.rows = 0
        """Data rows read so far."""
        self.last = 0
        """The last row's number."""
        self.handed = 0
        """Rows handed on to the workers so far."""
        self.finished = False
        """Whether every row has been read."""
        self.held: list[tuple[int, int, list[str]]] = []
        """Rows that repeat an earlier row's source id or licence id (or whose id cannot be told)."""
        self.survivors: int | None = None
        """Held rows that :meth:`resolve` handed on (``None`` before)."""
        self._first_sid: dict[str, int] = {}
        self._first_key: dict[tuple[str, int] | None, int] = {}

    def __iter__(self) -> Iterator[_Work]:
        sid_at = self.keys.index("source_id")
        id_columns = [(k, i) for i, k in enumerate(self.keys) if k in _ID_COLUMNS]  # what _id_key reads, nothing more
        first_sid, first_key, held = self._first_sid, self._first_key, self.held
        for n, line, cells in self.items:
            self.rows += 1
            self.last = n
            if isinstance(cells, str):
                self.problems.append(RowProblem(n, line, "", cells, cells))
                continue
            sid = cells[sid_at].strip()
            key = _id_key({k: cells[i] for k, i in id_columns})
            if key is None or sid in first_sid or key in first_key:
                held.append((n, line, cells))
            else:
                self.handed += 1
                yield n, line, cells, sid in self.done_sources, key
            first_sid.setdefault(sid, n)
            first_key.setdefault(key, n)
        self.finished = True

    def total(self) -> int:
        """Rows to hand on: so far, the held ones (those that survive, once known), and, until the file has
        been read, the most there can still be (never more than an earlier total)."""
        held = len(self.held) if self.survivors is None else self.survivors
        return self.handed + held + (0 if self.finished else max(0, self.expected - self.rows))

    def resolve(
        self, rejected: set[int], *, licence_type: LicenceType, authority: Authority, at: dt.datetime
    ) -> tuple[list[_Work], list[str]]:
        """The held rows (after every handed-on row was planned; ``rejected``: the rows its workers
        rejected): the survivors for the workers, and the licence ids of those already issued."""
        assert self.finished, "resolve() before the whole file was read"
        held_rows = {n for n, _, _ in self.held}

        def first_valid(first: int | None, n: int) -> int | None:  # the earlier handed-on row, if valid
            return (
                first if first is not None and first < n and first not in held_rows and first not in rejected else None
            )

        work: list[_Work] = []
        already: list[str] = []
        seen_sid: dict[str, int] = {}
        seen_id: dict[str, int] = {}
        planned = plan_items(self.keys, self.held, licence_type=licence_type, authority=authority, at=at)
        for (n, line, cells), (_, _, sid, row, problem) in zip(self.held, planned, strict=True):
            if row is None or row.licence is None:
                en, zh = problem or ("invalid row", "无效行")
                self.problems.append(RowProblem(n, line, sid, en, zh))
                continue
            lid = row.licence_id
            prior = first_valid(self._first_sid.get(sid), n) or seen_sid.get(sid)
            if prior is not None:
                self.problems.append(_source_repeats(n, line, sid, prior))
                continue
            key = (row.licence.id.serial, row.licence.id.version)
            prior = first_valid(self._first_key.get(key), n) or seen_id.get(lid)
            if prior is not None:
                self.problems.append(_id_repeats(n, line, sid, lid, prior))
                continue
            seen_sid[sid] = seen_id[lid] = n
            if sid in self.done_sources:
                already.append(lid)
            else:
                work.append((n, line, cells, False, None))  # checked here: its worker plans it again
        self.survivors = len(work)
        return work, already


def _work_chunk(work: Sequence[_Work], commit_every: int) -> _ChunkResult:
    """Plan (validate) ``work`` here, in the worker, and issue its valid rows not issued yet."""
    assert _STATE is not None, "worker not initialised"
    st = _STATE
    lt, authority, at, columns = st.licence_type, st.entry.authority, st.at, st.columns
    rows: list[BatchRow] = []
    problems: list[tuple[int, int, str, str, str]] = []
    already: list[str] = []
    for n, line, cells, done, key in work:
        values = dict(zip(columns, cells, strict=True))
        try:
            licence = plan_row(values, licence_type=lt, authority=authority, at=at)
        except _RowError as exc:
            problems.append((n, line, values.get("source_id", "").strip(), exc.en, exc.zh))
            continue
        if key is not None and (licence.id.serial, licence.id.version) != key:  # would void the file's check
            raise RegistryError(f"row {n}: licence id {licence.id} not as checked across the file ({key})")
        if done:
            already.append(str(licence.id))
        else:
            rows.append(BatchRow(n, values, str(licence.id), licence))
    issued, skipped, docs = _issue_rows(st, rows, commit_every)
    return _ChunkResult(issued, skipped + len(already), docs, problems, already, os.getpid(), time.process_time())


def _issue_rows(st: _Worker, rows: Sequence[BatchRow], commit_every: int) -> tuple[list[str], int, int]:
    """Issue ``rows`` in transactions of ``commit_every``; returns (issued ids, skipped, documents)."""
    issued: list[str] = []
    skipped = pdfs = 0
    for start in range(0, len(rows), commit_every):
        _stop_if_asked()
        part = rows[start : start + commit_every]
        try:
            done, skip = _issue_transaction(st, part)
        except (DuplicateLicence, WriteConflict):
            # a concurrent issuer (another machine) got there first, or the database rolled the checked
            # transaction back for a concurrent one: redo row by row
            done, skip = [], 0
            for r in part:
                one, s1 = _issue_alone(st, r)
                done += one
                skip += s1
        issued += (str(iss.licence.id) for iss in done)
        skipped += skip
        if st.pdf_dir is not None:
            committed = {str(iss.licence.id): iss for iss in done}
            pdfs += _write_pdfs(st, [r.licence_id for r in part], committed)
    return issued, skipped, pdfs


WRITE_CONFLICT_RETRIES = 5
"""How often one row is tried again after the database rolled its transaction back for a concurrent one."""


def _issue_alone(st: _Worker, row: BatchRow) -> tuple[list[IssuedLicence], int]:
    """``row`` in a transaction of its own: a source id another issuer took meanwhile counts as skipped; a
    write conflict (deadlock, serialization failure) is tried again, up to :data:`WRITE_CONFLICT_RETRIES`
    times; any other error stops the job (committed rows stay issued; a re-run resumes)."""
    for attempt in range(WRITE_CONFLICT_RETRIES + 1):
        try:
            return _issue_transaction(st, [row])
        except DuplicateLicence:
            return [], 1
        except WriteConflict:
            if attempt == WRITE_CONFLICT_RETRIES:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _draw(st: _Worker, n: int, exclude: set[int]) -> list[int]:
    """``n`` distinct indexes drawn uniformly from the free ones of this process's residue class modulo
    :attr:`_Worker.stride` (herd privacy: never sequential; the class says only which process of the job
    signed). Without the classes, two processes drew the same index about once per pair of concurrent
    400-row transactions (400 × 400 / 131,072): one then waited for the other's commit, failed on the
    unique key and took the checked path (a third of all transactions with two workers), and on
    PostgreSQL two such clashes in opposite order were a deadlock.

    The list grows on its overall fill, not a class's: a class that has filled up (this process issued
    far more than its share) is left for the whole list after ``8 n + 64`` misses (at the usual fill,
    at most half, ``n`` draws miss about ``n`` times); the database's unique keys still guard."""
    out: list[int] = []
    chosen = set(exclude)
    size, bits, stride, slot = st.size, st.taken, st.stride, st.slot
    if st.known + len(chosen) + n > size * 0.9:  # cannot happen while the list doubles at half full
        raise RegistryError(f"status list of {st.entry.code} is full", message_zh="状态列表已满")
    classes = size // stride
    misses, crowded = 0, 8 * n + 64
    while len(out) < n:
        idx = secrets.randbelow(classes) * stride + slot if stride > 1 else secrets.randbelow(size)
        if bits[idx >> 3] & (1 << (idx & 7)) or idx in chosen:
            misses += 1
            if misses > crowded and stride > 1:
                stride = 1
            continue
        chosen.add(idx)
        out.append(idx)
    return out


def _mark_taken(st: _Worker, indexes: Iterator[int] | Sequence[int] | set[int]) -> None:
    bits = st.taken
    for idx in indexes:
        if idx < st.size and not bits[idx >> 3] & (1 << (idx & 7)):
            bits[idx >> 3] |= 1 << (idx & 7)
            st.known += 1


def _resize(st: _Worker, size: int) -> None:
    if size > st.size:
        st.taken.extend(bytes((size + 7) // 8 - len(st.taken)))
        st.size = size


@contextmanager
def _writer_lock(st: _Worker) -> Iterator[None]:
    """Serialise this job's SQLite writers in the kernel (a waiter wakes at once on release).

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while another process
    holds the write lock, which made two workers slower than one. ``BEGIN IMMEDIATE`` still
    guards against every other writer; the lock dies with the process (kill -9 included).
    """
    if st.lock_fd is None:
        yield
        return
    import fcntl

    fcntl.flock(st.lock_fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(st.lock_fd, fcntl.LOCK_UN)


class _CtrlC:
    """Ctrl-C in the process that runs a job: noted by :func:`_ctrl_c_between_steps`, acted on by
    :func:`_stop_if_asked`."""

    pressed = False
    handler: Callable[[int, FrameType | None], object] | None = None
    """The handler to call at the next step (the caller's: Python's raises ``KeyboardInterrupt``)."""


def _note_ctrl_c(signum: int, frame: FrameType | None) -> None:
    _CtrlC.pressed = True


@contextmanager
def _ctrl_c_between_steps() -> Iterator[None]:
    """Ctrl-C during the job acts only between two of its steps (transactions, documents, chunks).

    The process that runs a job issues too, and Python raises ``KeyboardInterrupt`` between any two
    bytecodes: between a commit of its audit chain and :meth:`ChainWriter.advance` (the chain's closing
    then records the position before that commit: ``audit verify`` fails), or while
    ``concurrent.futures`` holds a future's lock (the pool's shutdown then waits for it forever). The
    handler only notes the press; :func:`_stop_if_asked` calls the caller's handler at the next step,
    and the caller's handler is back afterwards. Main thread only (the only one Python's handlers run
    in); pool workers ignore Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # ignored, default action, or set outside Python: nothing is raised anyway
        yield
        return
    _CtrlC.pressed, _CtrlC.handler = False, previous
    signal.signal(signal.SIGINT, _note_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _CtrlC.pressed, _CtrlC.handler = False, None


def _stop_if_asked() -> None:
    """Between two steps: Ctrl-C pressed since the last one acts now (raises ``KeyboardInterrupt``)."""
    if _CtrlC.pressed and _CtrlC.handler is not None:
        _CtrlC.pressed = False
        _CtrlC.handler(signal.SIGINT, None)


def _sign_all(st: _Worker, rows: Sequence[BatchRow], indexes: Sequence[int]) -> list[IssuedLicence]:
    """``rows`` signed with status indexes ``indexes``, step by step over all of them (:func:`sign_licences`)."""
    session = _session(st)
    licences = [
        r.licence.with_status_index(idx)  # planned by plan_row: built (fields validated) by LicenceBuilder.build
        if r.licence is not None
        else plan_row(r.values, licence_type=st.licence_type, authority=st.entry.authority, at=st.at,
                      status_index=idx)
        for r, idx in zip(rows, indexes, strict=True)
    ]  # fmt: skip
    return sign_licences(
        licences, st.signer, at=st.at, catalog=st.catalog, kid=session.kid, unsafe_fields_normalized=True
    )


@dataclass
class _ChainSession:
    """This process's audit chain and writer-lock figures (one per worker state; see ``specs/audit-log.md``)."""

    state: _Worker
    """The worker state the chain belongs to."""
    kid: bytes
    """The signer's key id (hashed once, not per licence)."""
    writer: ChainWriter | None = None
    """This process's audit chain (opened at the first bulk write)."""
    transactions: int = 0
    """Write transactions committed."""
    lock_seconds: float = 0.0
    """Time spent waiting for and holding the write lock (flock + transaction), summed."""


_SESSION: _ChainSession | None = None


def _session(st: _Worker) -> _ChainSession:
    global _SESSION
    if _SESSION is None or _SESSION.state is not st:
        _SESSION = _ChainSession(st, bytes.fromhex(st.kid))
    return _SESSION


def _chain(st: _Worker, session: _ChainSession) -> ChainWriter:
    """The worker's own audit chain, opened on first use (closed by :func:`_close_chain`, which a pool worker
    runs as it exits)."""
    if session.writer is None:
        session.writer = st.registry.open_chain(
            actor=st.actor, at=st.at, note={"authority": st.entry.code, "type_code": st.licence_type.code}
        )
    return session.writer


def _close_chain() -> None:
    """Record where this process's chain ends, with its lock figures (best effort: a kill -9 skips it,
    and the chain's head row still guards its tail)."""
    global _SESSION
    session, _SESSION = _SESSION, None
    if session is None or session.writer is None:
        return
    note = {"transactions": session.transactions, "lock_ms": round(session.lock_seconds * 1000, 3)}
    with suppress(ElicenseError):  # else the chain stays open: still verifiable through its head row
        session.state.registry.close_chain(session.writer, at=session.state.at, note=note)


def _issue_transaction(st: _Worker, rows: Sequence[BatchRow]) -> tuple[list[IssuedLicence], int]:
    """Sign ``rows`` and hash their audit entries outside any lock, then insert them at once; returns the
    licences committed (as signed and stored: their documents need not read them back) and how many rows
    were skipped (issued meanwhile by another issuer).

    Status indexes are chosen before signing from the free ones this worker knows of, and
    checked against the database in one read first, so a collision (another worker won the
    index in the meantime) is rare. The write transaction only inserts (three
    ``executemany`` and the head of this worker's own audit chain); the database's unique
    constraints are the guard. When they fire (a concurrent issuer took a source id or an
    index), :func:`_issue_checked` redoes the rows under the authority's lock. A single
    licence (no bitmap) goes to the ``main`` chain. Each row is planned once (:func:`plan_batch`).
    """
    reg, code = st.registry, st.entry.code
    session = _session(st)
    st.writes += 1
    # ``known`` counts what this worker saw, a lower bound (other workers issue too): past a quarter
    # of the list, the database count decides every 8th transaction. Growth comes before drawing.
    if st.known + len(rows) >= st.size * MAX_FILL or (st.known >= st.size * MAX_FILL / 2 and st.writes % 8 == 0):
        with _writer_lock(st), reg.transaction() as conn:
            reg.lock_authority(conn, code)
            _resize(st, reg.grow_status_list(conn, code, st.size, incoming=len(rows)))
    indexes = _draw(st, len(rows), set())
    with reg.reading() as conn:
        clash = reg.taken_among(conn, code, indexes)
        clashed = bool(clash)
        while clash:
            _mark_taken(st, clash)
            fresh = _draw(st, len(clash), set(indexes))
            it = iter(fresh)
            indexes = [next(it) if i in clash else i for i in indexes]
            clash = reg.taken_among(conn, code, fresh)
    prepared = _sign_all(st, rows, indexes)
    if clashed and not st.complete:  # no bitmap (one licence): collisions are the growth signal
        return _issue_checked(st, rows, prepared, clashed=True)
    writer = _chain(st, session) if st.complete else None
    if writer is None:
        return _issue_checked(st, rows, prepared, clashed=False)
    bulk = prepare_issued([(iss, {"row": r.row, "batch": True}) for r, iss in zip(rows, prepared, strict=True)],
                          kid=st.kid, at=st.at)  # fmt: skip
    appended = writer.prepare(bulk.audit, at=st.at)
    t0 = time.perf_counter()
    try:
        with _writer_lock(st), reg.transaction() as conn:
            reg.insert_issued(conn, bulk, appended)
            _crashpoint("issue.before_commit")
    except (DuplicateLicence, WriteConflict):  # a concurrent issuer took a source id or an index: check the rows
        session.lock_seconds += time.perf_counter() - t0
        return _issue_checked(st, rows, prepared, clashed=True)
    session.lock_seconds += time.perf_counter() - t0
    session.transactions += 1
    writer.advance(appended)  # with the commit, both or neither: Ctrl-C acts between steps (_stop_if_asked)
    _mark_taken(st, indexes)
    _crashpoint("issue.after_commit")
    if st.registry.dialect == "sqlite" and _checkpoint_due(st, session.transactions):
        _checkpoint(st)
    return prepared, 0


def _index_of(issued: IssuedLicence) -> int:
    """The status index a batch licence was signed with (every batch licence has one)."""
    idx = issued.licence.status_index
    if idx is None:
        raise RegistryError("a batch licence without a status index", message_zh="批量证照缺少状态列表索引")
    return idx


def _issue_checked(
    st: _Worker, rows: Sequence[BatchRow], prepared: list[IssuedLicence], *, clashed: bool
) -> tuple[list[IssuedLicence], int]:
    """Insert signed ``rows`` after checking, under the authority's lock, which source ids are already
    issued (skipped) and which indexes are taken (re-drawn and re-signed); audit entries go to ``main``."""
    reg, code, tcode = st.registry, st.entry.code, st.licence_type.code
    with _writer_lock(st), reg.transaction() as conn:
        reg.lock_authority(conn, code)
        sids = [r.values["source_id"].strip() for r in rows]
        done = reg.sources_among(conn, code, tcode, sids)
        keep = [(r, iss) for r, iss, sid in zip(rows, prepared, sids, strict=True) if sid not in done]
        skipped = len(rows) - len(keep)
        clash = reg.taken_among(conn, code, [_index_of(iss) for _, iss in keep])
        clashed = clashed or bool(clash)
        while clash:  # lost a race for an index: re-draw and re-sign (we hold the write lock)
            _mark_taken(st, clash)
            used = {_index_of(iss) for _, iss in keep}
            redo = [(k, r) for k, (r, iss) in enumerate(keep) if _index_of(iss) in clash]
            fresh = _draw(st, len(redo), used)
            signed = _sign_all(st, [r for _, r in redo], fresh)
            for (k, r), iss in zip(redo, signed, strict=True):
                keep[k] = (r, iss)
            clash = reg.taken_among(conn, code, fresh)
        if clashed and not st.complete:  # no bitmap (one licence): collisions are the growth signal
            _resize(st, reg.grow_status_list(conn, code, st.size))
        reg.add_issued_many(
            conn,
            [(iss, {"row": r.row, "batch": True}) for r, iss in keep],
            kid=st.kid,
            actor=st.actor,
            at=st.at,
        )
        _crashpoint("issue.before_commit")
    _mark_taken(st, [_index_of(iss) for _, iss in keep])
    _crashpoint("issue.after_commit")
    return [iss for _, iss in keep], skipped


def _write_pdfs(st: _Worker, licence_ids: Sequence[str], committed: Mapping[str, IssuedLicence] | None = None) -> int:
    """Write the missing documents (after the commit: a crash leaves them to the re-run); how many.

    ``committed``: licences this process has just committed, as signed (the rows it inserted hold the same;
    a test holds them equal), so their documents need no read of the registry (0.2–0.3 ms a document); the
    others (issued by an earlier run or by a concurrent issuer) are read back."""
    writer = st.documents
    assert writer is not None
    n = 0
    for lid in licence_ids:
        _stop_if_asked()
        if not writer.missing(lid):
            continue
        issued = committed.get(lid) if committed is not None else None
        if issued is None:
            record = st.registry.get(lid)
            issued = record.to_issued() if record is not None else None
        if issued is not None and writer.write(issued):
            n += 1
    return n


def _documents_chunk(licence_ids: Sequence[str]) -> int:
    """:func:`_write_pdfs` as a pool task (documents of rows issued by an earlier run)."""
    assert _STATE is not None, "worker not initialised"
    return _write_pdfs(_STATE, licence_ids)


def run_batch(
    data: bytes,
    *,
    home: IssuerHome[_E],
    url: str,
    type_code: str,
    at: dt.datetime,
    actor: str,
    authority_code: str | None = None,
    workers: int = 1,
    encoding: str = "auto",
    report_path: Path | None = None,
    documents: DocumentSpec | None = None,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    chunk_size: int | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchReport:
    """Validate and issue a batch (the Python API behind ``elicense issue --batch``).

    ``documents`` (:class:`elicense.documents.PdfDocuments` / ``OfdDocuments``): also write a PDF or
    OFD per licence, after its commit; rows issued by an earlier run get theirs if missing.
    ``workers`` counts this process: it issues too, and with ``workers`` > 1 the other ``workers`` - 1
    start once per job, at its start (they import and set up while this process reads the file and
    takes the first chunks), each opening the document writer once; a job of fewer than
    :data:`MIN_CHUNKS_PER_WORKER` chunks per worker is done by this process alone.
    ``progress`` gets a :class:`BatchProgress` as chunks complete; the default chunk is well under a
    second of work (8 rows with documents, else 800). Ctrl-C raises :class:`BatchInterrupted` once
    the running chunks have committed.
    """
    at = require_utc(at, "at").replace(microsecond=0)
    if workers < 1 or workers > 64:
        raise UsageError("workers must be 1..64")
    if commit_every < 1:
        raise UsageError("commit_every must be ≥ 1")
    lt = Catalog.default().get(type_code)
    entry = _issuing_authority(home, authority_code, lt, f"{lt.name_zh} ({lt.code})")
    keys, rows, enc = _open_rows(data, licence_type=lt, encoding=encoding)  # file-level problems raise here
    expected = _line_count(data)
    if chunk_size is None:
        chunk_size = PDF_CHUNK_ROWS if documents is not None else QR_CHUNK_ROWS
    signer = home.signer(entry)  # a wrong passphrase fails here, clearly, before any worker starts
    parallel = workers > 1 and expected > chunk_size * MIN_CHUNKS_PER_WORKER * workers
    job = _Job(url, entry, functools.partial(home.signer, entry), lt.code, at, actor, documents, tuple(keys),
               stride=workers if parallel else 1)  # fmt: skip
    state = {"issued": 0, "skipped": 0, "documents": 0, "rejected": 0}
    t0 = time.perf_counter()
    now = BatchProgress("issuing", 0, expected, 0, 0, 0, 0, 0.0)
    problems: list[RowProblem] = []
    cpu0 = time.process_time()
    worker_cpu: dict[int, float] = {}
    triage: _Triage | None = None

    def report(phase: str, done: int, total: int) -> None:
        nonlocal now
        now = BatchProgress(phase, done, total, state["issued"], state["skipped"], len(problems),
                            state["documents"], time.perf_counter() - t0)  # fmt: skip
        if progress is not None:
            progress(now)

    with ExitStack() as stack:
        stack.enter_context(_ctrl_c_between_steps())  # left last: the pool's shutdown and the chain's closing too
        pool: Executor | None = None
        starting: _PoolStart | None = None
        if parallel:
            # start the other workers now: they import and set up (pyHanko, keys, fonts) while this process
            # reads the file and starts issuing (it is the first of the ``workers``: no start-up to wait for)
            pool = stack.enter_context(_pool(workers - 1, job, (type(home).__module__,)))
            starting = _PoolStart(pool)
        _init_worker(job)
        stack.callback(_close_worker)
        stack.enter_context(_collector_for_bulk())  # a row's lists and strings live as long as the job
        try:
            done_sources = _register(signer, entry, job)
            triage = _Triage(keys, rows, problems, done_sources, expected=expected)
            issued: list[str] = []
            already: list[str] = []
            done = dropped = 0  # rows a worker rejected leave the phase: done/total count rows to issue

            def issue(chunks: Iterable[Sequence[_Work]]) -> None:
                nonlocal done, dropped
                for res, n in _run_chunks(starting, _work_chunk, ((c, commit_every) for c in chunks), workers - 1):
                    issued.extend(res.issued)
                    already.extend(res.already)
                    if res.pid != os.getpid():  # this process's own CPU is counted below
                        worker_cpu[res.pid] = res.cpu
                    problems.extend(RowProblem(*p) for p in res.problems)
                    state["issued"] += len(res.issued)
                    state["skipped"] += res.skipped
                    state["documents"] += res.documents
                    done += n
                    dropped += len(res.problems)
                    report("issuing", done - dropped, triage.total() - dropped)

            report("issuing", 0, triage.total())
            issue(_stream_chunks(triage, chunk_size, workers))
            # every row read, every handed-on row planned: the held rows (repeats) are settled, in file order
            held, resolved = triage.resolve({p.row for p in problems}, licence_type=lt, authority=entry.authority,
                                            at=at)  # fmt: skip
            already += resolved
            state["skipped"] += len(resolved)
            issue(_chunks(held, chunk_size, workers))
            problems.sort(key=lambda p: p.row)
            if problems and report_path is not None:
                write_report(report_path, problems)
            if documents is not None and already:  # rows issued by an earlier (killed) run may lack their document
                step = chunk_size * 4
                done = 0
                parts = [(already[i : i + step],) for i in range(0, len(already), step)]
                for docs, n in _run_chunks(starting, _documents_chunk, parts, workers - 1):
                    state["documents"] += docs
                    done += n
                    report("documents", done, len(already))
        except KeyboardInterrupt:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)  # the running chunks commit; no new ones start
            raise BatchInterrupted(now) from None
        except BrokenProcessPool as exc:
            # a worker could not set up (e.g. B-T without a TSA key) or died: say why, as one worker would
            if documents is not None:
                documents.open_writer()  # raises the set-up error itself (a typed ElicenseError)
            raise StorageError(
                f"a worker process stopped: {exc}; committed rows stay issued, re-run to resume",
                message_zh="签发子进程异常退出；已提交的不会丢失，重新运行即可继续",
            ) from exc
    seconds = time.perf_counter() - t0
    kind = documents.kind if documents is not None else ""
    assert triage is not None
    return BatchReport(
        total=triage.last,
        valid=triage.rows - len(problems),
        rejected=len(problems),
        issued=len(issued),
        already_issued=state["skipped"],
        seconds=seconds,
        report_path=report_path if problems and report_path is not None else None,
        encoding=enc,
        pdfs=state["documents"] if kind == "pdf" else 0,
        licence_ids=tuple(issued[:1000]),
        ofds=state["documents"] if kind == "ofd" else 0,
        cpu_seconds=time.process_time() - cpu0 + sum(worker_cpu.values()),
    )


def _pool(workers: int, job: _Job, modules: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    """``workers`` processes, each set up once for ``job``, forked from the fork server of
    :mod:`elicense.processes` (never from this process: no inherited locks, threads or database
    connections), which imports the modules they need once: ``modules`` (the home's, which unpickling
    the job's key unlocker imports: ~70 ms a worker) and the document writer's."""
    preload = job.documents.preload if job.documents is not None else ()
    start_early((*modules, *preload))  # (a no-op if the CLI started it): its workers ignore Ctrl-C from birth
    context = worker_context((*modules, *preload))
    slots = context.Value("i", 0)  # each worker takes the next residue class of status indexes
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(job, True, True, slots))  # fmt: skip


def _register(signer: Signer, entry: IssuerEntry, job: _Job) -> dict[str, str]:
    """Record the signing key and seal (idempotent); the source ids already issued (→ licence id)."""
    registry = Registry.open(job.url)
    try:
        done_sources = registry.issued_sources(entry.code, job.type_code)
        registry.register_key(entry.code, signer.certificate, entry.key, at=job.at, actor=job.actor)
        registry.register_seal(entry.code, entry.seal_name, kid=None, at=job.at, actor=job.actor)
    finally:
        registry.close()
    return done_sources


_R = TypeVar("_R")


_W = TypeVar("_W")


def _chunks(work: Sequence[_W], size: int, workers: int) -> list[Sequence[_W]]:
    """``work`` in chunks of ``size``, the last few smaller: when this process has no chunk left to take,
    each pool worker may still have :data:`POOL_AHEAD` chunks to go, and the job ends when the last one
    does; with small ones at the end, the processes finish within a small chunk of each other."""
    if workers < 2:
        return [work[i : i + size] for i in range(0, len(work), size)]
    tail = min(len(work), _tail(size, workers))
    small = max(1, size // 8)
    head = len(work) - tail
    return [work[i : min(i + size, head)] for i in range(0, head, size)] + [
        work[i : i + small] for i in range(head, len(work), small)
    ]


def _tail(size: int, workers: int) -> int:
    """Rows at the end of a job that go in small chunks (see :func:`_chunks`)."""
    return size * POOL_AHEAD * workers if workers > 1 else 0


def _stream_chunks(work: Iterable[_W], size: int, workers: int) -> Iterator[Sequence[_W]]:
    """:func:`_chunks` of ``work`` as it comes: a chunk of ``size`` is given as soon as it is read, and the
    last rows, once known to be the last, in the small chunks of the tail (the rows of the tail are read
    ahead: ~4,000 rows, a few hundredths of a second)."""
    ahead = _tail(size, workers) + size
    buffer: list[_W] = []
    for w in work:
        buffer.append(w)
        if len(buffer) >= ahead:
            yield buffer[:size]
            del buffer[:size]
    yield from _chunks(buffer, size, workers)


HAND_OFF_SECONDS = 0.001
"""How long this process lets go of the interpreter after handing chunks to an idle pool (see :func:`_run_chunks`)."""
POOL_AHEAD = 2
"""Chunks handed to each pool worker ahead (one running, one waiting): a worker never idles while this
process is busy with a chunk of its own."""
MIN_CHUNKS_PER_WORKER = 2
"""Other workers start only for a job of at least this many chunks per worker: a smaller one is done by
this process before they could have started (their start-up is 0.5–1.5 s; a chunk is well under a second)."""
WAIT_FOR_WORKERS = False
"""``True``: this process takes no chunk before the other workers have started, so every process of a
short job issues too (the tests of concurrent writers set it; a job then waits for the start-up)."""


class _PoolStart:
    """Starts a pool's processes in a thread of its own: the first ``submit`` waits until the fork server
    has imported the workers' modules (~0.5 s), and this process issues meanwhile."""

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        self.ready = threading.Event()
        self.error: BaseException | None = None
        threading.Thread(target=self._start, name="elicense-pool-start", daemon=True).start()

    def _start(self) -> None:
        try:
            self.pool.submit(_ready)
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()

    def started(self, *, block: bool = False) -> Executor | None:
        """The pool once its processes are starting (``None`` before), or its start-up error raised."""
        if block:
            self.ready.wait()
        if not self.ready.is_set():
            return None
        if self.error is not None:
            raise self.error
        return self.pool


def _run_chunks(
    starting: _PoolStart | None, fn: Callable[..., _R], args: Iterable[tuple[Any, ...]], pool_workers: int = 1
) -> Iterator[tuple[_R, int]]:
    """``fn(*a)`` for each ``a``, with ``len(a[0])``, as they complete: on the pool's ``pool_workers``
    processes and in this one, which takes the next chunk itself whenever the pool has enough to do
    (and all of them until the pool has started: a job never waits for a worker's start-up). ``args``
    is drawn as chunks are handed out (a job's rows are read as they are issued).

    ``ProcessPoolExecutor`` sends a chunk through two threads of this process (its manager and its queue's
    feeder), and each waits for the interpreter lock while this process works on a chunk of its own: up to
    the switch interval (5 ms) each, ~30 ms before the job's first chunks reached the other worker. When
    the pool had nothing to do, this process sleeps :data:`HAND_OFF_SECONDS` after handing chunks to it, so
    they go at once; while the pool still has a chunk queued, a late hand-off keeps no one waiting, and this
    process does not sleep."""
    source = iter(args)
    pending: deque[tuple[Any, ...]] = deque()
    futures: dict[Future[_R], int] = {}

    def more() -> bool:
        if not pending:
            nxt = next(source, None)
            if nxt is not None:
                pending.append(nxt)
        return bool(pending)

    while more() or futures:
        _stop_if_asked()
        pool = None if starting is None else starting.started(block=not pending or (WAIT_FOR_WORKERS and not futures))
        if pool is not None:
            idle = not futures
            while len(futures) < POOL_AHEAD * pool_workers and more():
                a = pending.popleft()
                futures[pool.submit(fn, *a)] = len(a[0])
            if idle and futures:
                time.sleep(HAND_OFF_SECONDS)  # the pool had nothing to do: let its threads send the chunks now
            finished, _ = wait(futures, timeout=0 if more() else None, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result(), futures.pop(fut)
            if finished:
                continue
        if more():
            a = pending.popleft()
            yield fn(*a), len(a[0])


def _close_worker() -> None:
    global _STATE
    _close_chain()
    if _STATE is not None:
        _STATE.registry.close()
        if _STATE.lock_fd is not None:
            os.close(_STATE.lock_fd)
        _STATE = None


def _issuing_authority(home: IssuerHome[_E], authority_code: str | None, lt: LicenceType, what_en: str) -> _E:
    """The named authority, else the home's first for the type; it must be authorised for the type
    (the one issuer-side statement of the rule; ``what_en`` names the type in the refusal)."""
    entry = home.authority(authority_code) if authority_code else home.authority_for_type(lt.code)
    if lt.code not in entry.licence_types:
        raise UsageError(f"{entry.name} may not issue {what_en}", message_zh=f"{entry.name} 无权签发{lt.name_zh}")
    return entry


def default_actor() -> str:
    """``$ELICENSE_ACTOR``, else ``user@host`` (who ran the job, for the audit log)."""
    actor = os.environ.get("ELICENSE_ACTOR")
    if actor:
        return actor[:128]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"[:128]


@dataclass(frozen=True)
class SingleResult:
    """Outcome of :func:`issue_one`."""

    licence_id: str
    """The licence's id."""
    qr_payload: str
    """Its ``EL2:`` QR text."""
    created: bool
    """``False`` when the source id had already been issued (nothing new was signed)."""


def issue_one(
    values: Mapping[str, str],
    *,
    home: IssuerHome[_E],
    url: str,
    type_code: str,
    at: dt.datetime,
    actor: str,
    authority_code: str | None = None,
    documents: DocumentSpec | None = None,
) -> SingleResult:
    """Issue one licence from the same columns as a batch row (idempotent on ``source_id``);
    ``documents``: also write its PDF or OFD (if missing)."""
    at = require_utc(at, "at").replace(microsecond=0)
    lt = Catalog.default().get(type_code)
    entry = _issuing_authority(home, authority_code, lt, lt.code)
    names = header_names(lt)
    row: dict[str, str] = {}
    for k, v in values.items():
        key = names.get(k.strip())
        if key is None:
            raise UsageError(f"unknown field {k!r} for {lt.slug}", message_zh=f"{lt.name_zh}没有字段 {k!r}")
        if not isinstance(v, str):
            v = str(v)
        row[key] = v
    try:
        licence = plan_row(row, licence_type=lt, authority=entry.authority, at=at)
    except _RowError as exc:
        raise LicenceDataError(exc.en, message_zh=exc.zh) from exc
    _init_worker(_Job(url, entry, functools.partial(home.signer, entry), lt.code, at, actor, documents), bitmap=False)
    try:
        assert _STATE is not None
        st = _STATE
        st.registry.register_key(entry.code, st.signer.certificate, entry.key, at=at, actor=actor)
        st.registry.register_seal(entry.code, entry.seal_name, kid=None, at=at, actor=actor)
        done, _skipped = _issue_transaction(st, [BatchRow(1, row, str(licence.id))])
        rec = st.registry.find_source(entry.code, lt.code, row["source_id"].strip())
        if documents is not None and rec is not None:
            _write_pdfs(st, [rec.id])
    finally:
        _close_worker()
    assert rec is not None
    return SingleResult(rec.id, rec.qr_payload, bool(done))
