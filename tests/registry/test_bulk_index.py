"""Bulk issuance picks status indexes before signing, without collisions, and plans each row once (#8)."""

from __future__ import annotations

import functools
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registry_support as rs
from elicense.home import Home
from elicense.registry import DuplicateLicence, Registry, sqlite_url
from elicense.registry import batch as b


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.load(rs.demo_home(tmp_path / "home"))


def _worker(home: Home) -> tuple[str, b._Worker]:
    url = sqlite_url(home.path / "registry.sqlite")
    lt = home.authority_for_type("11100000MB0143028R001")
    b.run_batch(
        rs.csv_bytes([rs.row(i) for i in range(3)]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t"
    )  # creates the registry, key and status list
    b._init_worker(b._Job(url, lt, functools.partial(home.signer, lt), "11100000MB0143028R001", rs.NOW, "t"))
    assert b._STATE is not None
    return url, b._STATE


@pytest.mark.parametrize("race", ["seen_before_signing", "seen_in_transaction"])
def test_taken_indexes_are_never_reused_and_rows_signed_with_their_index(
    home: Home, monkeypatch: pytest.MonkeyPatch, race: str
) -> None:
    url, st = _worker(home)
    try:
        with Registry.open(url) as other, other.transaction() as conn:  # another issuer takes 7 and 8 meanwhile
            assert other.claim_status_index(conn, st.entry.code, 7, None, at=rs.NOW)
            assert other.claim_status_index(conn, st.entry.code, 8, None, at=rs.NOW)
        draws: Iterator[int] = iter([7, 8, 9, 10, 11, 12])
        monkeypatch.setattr(secrets, "randbelow", lambda n: next(draws))
        if race == "seen_in_transaction":  # the other issuer commits between our check and our transaction
            real = st.registry.taken_among
            calls = {"n": 0}

            def late(conn: Any, code: str, idxs: Any) -> set[int]:
                calls["n"] += 1
                return set() if calls["n"] == 1 else real(conn, code, idxs)

            monkeypatch.setattr(st.registry, "taken_among", late)
        plan = b.plan_batch(
            rs.csv_bytes([rs.row(i) for i in range(100, 103)]),
            licence_type=st.licence_type,
            authority=st.entry.authority,
            at=rs.NOW,
        )
        done, skipped = b._issue_transaction(st, plan.rows)
        ids = [str(iss.licence.id) for iss in done]
    finally:
        b._close_worker()
    assert skipped == 0 and len(ids) == 3
    with Registry.open(url) as reg:
        recs = [reg.get(i) for i in ids]
        assert sorted(r.status_index for r in recs if r) == [9, 10, 11]
        for r in recs:
            assert r is not None and r.record["status_index"] == r.status_index  # signed with the index it holds
            assert r.to_issued().licence.status_index == r.status_index
        assert reg.verify_audit().ok


def test_each_row_is_planned_once(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = b.plan_row

    def counting(*a: Any, **kw: Any) -> Any:
        calls["n"] += 1
        return real(*a, **kw)

    monkeypatch.setattr(b, "plan_row", counting)
    report = b.run_batch(
        rs.csv_bytes([rs.row(i) for i in range(60)]),
        home=home,
        url=sqlite_url(home.path / "registry.sqlite"),
        type_code=rs.TYPE,
        at=rs.NOW,
        actor="t",
    )
    assert report.issued == 60 and calls["n"] == 60


def test_bitmap_reflects_the_registry(home: Home) -> None:
    url, st = _worker(home)
    b._close_worker()
    with Registry.open(url) as reg:
        taken = {r.status_index for r in reg.query(limit=None)}
        bits = reg.taken_status_bitmap(st.entry.code, reg.status_list_size(st.entry.code))
    assert {i for i in range(len(bits) * 8) if bits[i >> 3] & (1 << (i & 7))} == taken and len(taken) == 3


def test_workers_validate_in_parallel_with_the_same_report(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several workers validate a large file themselves: same rejected rows, rows and lines as one process."""
    rows = [rs.row(i) for i in range(120)]
    rows[5][2] = ""  # no holder name
    rows[40] = rs.row(7)  # repeats row 8's source id
    rows[90][4] = "2015-13-45"  # not a date
    data = rs.csv_bytes(rows) + b"a,b\n"  # and a row with too few cells
    lt = home.authority_for_type("11100000MB0143028R001")
    from elicense.catalog import Catalog

    serial = b.plan_batch(data, licence_type=Catalog.default().get(rs.TYPE), authority=lt.authority, at=rs.NOW)
    report = b.run_batch(
        data,
        home=home,
        url=sqlite_url(home.path / "registry.sqlite"),
        type_code=rs.TYPE,
        at=rs.NOW,
        actor="t",
        workers=2,
        chunk_size=20,
        report_path=tmp_path / "report.csv",
    )
    assert report.total == 121 and report.rejected == 4 == len(serial.problems) and report.issued == 117
    import csv

    with open(tmp_path / "report.csv", encoding="utf-8", newline="") as f:
        got = [(int(r["row"]), int(r["line"]), r["source_id"], r["reason"]) for r in csv.DictReader(f)]
    assert got == [(p.row, p.line, p.source_id, p.reason) for p in serial.problems]
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        recs = reg.query(limit=None)
        assert len(recs) == 117 and len({r.status_index for r in recs}) == 117 and reg.verify_audit().ok
        assert all(r.record["status_index"] == r.status_index for r in recs)


def test_a_small_list_grows_before_it_fills(home: Home) -> None:
    """Single issues (no bitmap) and a batch (bitmap) both keep the list at most about half full."""
    from sqlalchemy import update

    from elicense.registry import schema

    url, st = _worker(home)
    code = st.entry.code
    b._close_worker()
    with Registry.open(url) as reg, reg.transaction() as conn:
        conn.execute(update(schema.status_lists).where(schema.status_lists.c.authority_code == code).values(size=16))
    for i in range(100, 110):
        b.issue_one(
            dict(zip(rs.HEADER, rs.row(i), strict=True)), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t"
        )
    b.run_batch(
        rs.csv_bytes([rs.row(i) for i in range(200, 260)]),
        home=home,
        url=url,
        type_code=rs.TYPE,
        at=rs.NOW,
        actor="t",
        chunk_size=25,
    )
    with Registry.open(url) as reg:
        size = reg.status_list_size(code)
        recs = reg.query(limit=None)
        assert len(recs) == 73 and len({r.status_index for r in recs}) == 73
        assert size >= 2 * 73 and all(r.status_index is not None and r.status_index < 131_072 for r in recs)
        assert all(
            r.status_index is not None and r.status_index < size
            for r in recs
            if r.source_id and not r.source_id.startswith("P-00000")
        )  # the first 3 were drawn from the original list
        assert reg.verify_audit().ok


def _report_rows(path: Path) -> list[tuple[int, int, str, str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        return [(int(r["row"]), int(r["line"]), r["source_id"], r["reason"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_that_share_an_id_across_the_file_are_checked_as_one_process_would(
    home: Home, tmp_path: Path, workers: int
) -> None:
    """Workers plan their own rows; the rows sharing a source id or licence id with another row anywhere in
    the file are settled in file order first (the first *valid* one wins), exactly as plan_batch does."""
    rows = [rs.row(i) for i in range(300)]
    rows[250][1] = rows[10][1]  # same number → same derived serial → same licence id as row 11: rejected
    rows[200][1] = rows[20][1]
    rows[20][2] = ""  # row 21 is invalid, so row 201 (same licence id) is the first valid one: issued
    rows[280][0] = rows[30][0]  # same source id as row 31: rejected
    rows[290][0] = rows[5][0]
    rows[5][4] = "2015-13-45"  # row 6 invalid: row 291 (same source id) is issued
    data = rs.csv_bytes(rows)
    lt = home.authority_for_type("11100000MB0143028R001")
    from elicense.catalog import Catalog

    serial = b.plan_batch(data, licence_type=Catalog.default().get(rs.TYPE), authority=lt.authority, at=rs.NOW)
    assert len(serial.problems) == 4 and len(serial.rows) == 296
    url = sqlite_url(home.path / "registry.sqlite")
    report = b.run_batch(data, home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t", workers=workers,
                         chunk_size=20, report_path=tmp_path / "report.csv")  # fmt: skip
    assert (report.total, report.valid, report.rejected, report.issued) == (300, 296, 4, 296)
    assert _report_rows(tmp_path / "report.csv") == [(p.row, p.line, p.source_id, p.reason) for p in serial.problems]
    with Registry.open(url) as reg:
        assert {r.id for r in reg.query(limit=None)} == {r.licence_id for r in serial.rows}
        assert reg.verify_audit().ok

    # a re-run issues nothing; a row issued before that is invalid now is reported, not counted as issued
    rows[100][2] = ""
    again = b.run_batch(rs.csv_bytes(rows), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t",
                        workers=workers, chunk_size=20, report_path=tmp_path / "report2.csv")  # fmt: skip
    assert (again.issued, again.already_issued, again.rejected, again.valid) == (0, 295, 5, 295)
    assert 101 in {r[0] for r in _report_rows(tmp_path / "report2.csv")}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_repeat_read_long_after_its_first_row_was_issued_is_settled_as_one_process_would(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Issuing starts with the first rows read, so a row's first occurrence is issued (or rejected by its
    worker) long before a repeat of it is read; the repeats are held and settled at the end, in file order,
    with the same outcome, reasons and rows as plan_batch over the whole file: chains of repeats (a licence
    id, then that row's source id), repeats of rows whose own id cannot be told, and repeats of repeats."""
    rows = [rs.row(i) for i in range(1500)]
    rows[1400][1] = rows[3][1]  # A (row 4, valid) … B: A's number → A's licence id, new source id: rejected
    rows[1450][0] = rows[1400][0]  # … C: B's source id, its own number: B was rejected, so C is the first: issued
    rows[9][2] = ""  # row 10 invalid …
    rows[1300][0] = rows[9][0]  # … so its repeat is the first valid row with that source id: issued
    rows[1310][0] = rows[9][0]  # … and the repeat of that repeat is rejected, naming row 1301
    for r in rows:
        r.append("")  # version: the default
    rows[12].append("")  # row 13: one cell too many (its own problem) …
    rows[1200][0] = rows[12][0]  # … which gives its source id to no one: row 1201 is issued
    rows[20][-1] = "v2"  # row 21: its licence id cannot be told in advance (held; invalid) …
    rows[1250][0] = rows[20][0]  # … and a later row with its source id is held too: the first valid, issued
    data = rs.csv_bytes(rows, header=[*rs.HEADER, "version"])
    lt = home.authority_for_type("11100000MB0143028R001")
    from elicense.catalog import Catalog

    serial = b.plan_batch(data, licence_type=Catalog.default().get(rs.TYPE), authority=lt.authority, at=rs.NOW)
    read = [0]
    real_read_rows, real_stream = b.read_rows, b._stream_chunks
    at_first_chunk: list[int] = []

    def counting_read_rows(text: str, known: Any) -> Any:
        keys, it = real_read_rows(text, known)

        def counted() -> Iterator[Any]:
            for item in it:
                read[0] += 1
                yield item

        return keys, counted()

    def watched_chunks(*a: Any) -> Iterator[Any]:
        for chunk in real_stream(*a):
            at_first_chunk.append(read[0])  # rows read when this chunk was handed out
            yield chunk

    monkeypatch.setattr(b, "read_rows", counting_read_rows)
    monkeypatch.setattr(b, "_stream_chunks", watched_chunks)
    url = sqlite_url(home.path / "registry.sqlite")
    report = b.run_batch(data, home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t", workers=workers,
                         chunk_size=20, report_path=tmp_path / "report.csv")  # fmt: skip
    assert at_first_chunk and at_first_chunk[0] < 200  # issuing began with a few hundred of 1,500 rows read
    assert (report.total, report.valid, report.rejected, report.issued) == (
        1500, len(serial.rows), len(serial.problems), len(serial.rows))  # fmt: skip
    assert _report_rows(tmp_path / "report.csv") == [(p.row, p.line, p.source_id, p.reason) for p in serial.problems]
    reasons = {p.row: p.reason for p in serial.problems}
    assert "repeats row 4" in reasons[1401] and "repeats row 1301" in reasons[1311] and 1451 not in reasons
    assert 1301 not in reasons and 1201 not in reasons and 1251 not in reasons and {10, 13, 21} <= set(reasons)
    with Registry.open(url) as reg:
        assert {r.id for r in reg.query(limit=None)} == {r.licence_id for r in serial.rows}
        assert reg.verify_audit().ok


def test_progress_totals_only_come_down_and_end_exact(home: Home) -> None:
    """While the file is being read, a phase's total is its line count (an upper bound: blank lines, a
    cell over two lines); it only comes down, never below what is done, and ends at the rows issued or
    skipped."""
    rows = [rs.row(i) for i in range(400)]
    rows[7][11] = "经营范围：\n软件开发"  # a quoted cell over two lines
    rows[300][0] = rows[2][0]  # a repeat, held to the end (rejected)
    rows[2][2] = ""  # … its first row invalid: the repeat is issued at the end
    data = rs.csv_bytes(rows).replace(b"\n", b"\n\n", 40)  # blank lines
    seen: list[b.BatchProgress] = []
    report = b.run_batch(data, home=home, url=sqlite_url(home.path / "registry.sqlite"), type_code=rs.TYPE,
                         at=rs.NOW, actor="t", chunk_size=20, progress=seen.append)  # fmt: skip
    assert report.issued == 399 and report.rejected == 1
    assert len(seen) > 10 and seen[0].total >= 400 and seen[0].done == 0
    for before, after in itertools.pairwise(seen):
        assert after.total <= before.total and after.done >= before.done
    assert all(p.done <= p.total for p in seen)
    assert (seen[-1].done, seen[-1].total) == (399, 399)


@pytest.mark.parametrize(
    "shape",
    ["crlf", "lf", "cr", "mixed", "no_final_newline", "blank_lines", "cell_over_lines", "gb18030", "header_only"],
)
def test_the_line_count_bounds_the_rows_a_file_holds(shape: str) -> None:
    """The line count (a phase's first total, and what decides whether the pool starts) is never below
    the rows the CSV reader finds, whatever line ends or encoding the file has."""
    rows = [rs.row(i) for i in range(30)]
    if shape == "cell_over_lines":
        rows[3][11] = "一\r\n二\n三\r四"
    data = rs.csv_bytes(rows if shape != "header_only" else [], encoding="gb18030" if shape == "gb18030" else "utf-8")
    data = data.replace(b"\r\n", b"\n") if shape in ("lf", "mixed", "blank_lines") else data
    if shape == "cr":
        data = data.replace(b"\r\n", b"\r")
    elif shape == "mixed":
        lines = data.split(b"\n")
        data = b"".join(x + (b"\r", b"\n", b"\r\n")[i % 3] for i, x in enumerate(lines[:-1])) + lines[-1]
    elif shape == "no_final_newline":
        data = data.rstrip(b"\r\n")
    elif shape == "blank_lines":
        data = data.replace(b"\n", b"\n\n")
    from elicense.catalog import Catalog

    _, items, _ = b.parse_batch(data, licence_type=Catalog.default().get(rs.TYPE))
    assert len(items) == (0 if shape == "header_only" else 30)
    assert all(not isinstance(cells, str) for _, _, cells in items)
    assert b._line_count(data) >= len(items)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 31, 32, 33, 100, 1001])
@pytest.mark.parametrize("size", [1, 8, 200])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_of_rows_as_they_are_read_are_the_chunks_of_the_whole_list(n: int, size: int, workers: int) -> None:
    """Rows handed on as they are read come in the very chunks of the whole list (the small tail included),
    and the first is handed on once ``size`` rows past the tail are read, not after the whole file."""
    work = list(range(n))
    read = [0]

    def reading() -> Iterator[int]:
        for w in work:
            read[0] += 1
            yield w

    stream = b._stream_chunks(reading(), size, workers)
    first = next(stream, None)
    if n:
        assert first is not None and read[0] <= min(n, b._tail(size, workers) + size)
    assert ([] if first is None else [first]) + list(stream) == b._chunks(work, size, workers)


def test_calling_process_issues_while_the_pool_starts_and_every_chunk_runs_once() -> None:
    """``_run_chunks`` hands chunks to the pool (two per worker ahead) and takes the next one itself
    meanwhile; every chunk's result comes back exactly once, from one of the two."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    ran: list[tuple[int, int]] = []

    def chunk(items: list[int]) -> int:
        time.sleep(0.005)
        ran.append((items[0], threading.get_ident()))
        return sum(items)

    args = [([i, i, i],) for i in range(40)]
    with ThreadPoolExecutor(1) as pool:
        got = list(b._run_chunks(b._PoolStart(pool), chunk, args, 1))
    assert sorted(r for r, _ in got) == sorted(3 * i for i in range(40)) and {n for _, n in got} == {3}
    assert sorted(i for i, _ in ran) == list(range(40))
    me = threading.get_ident()
    assert any(t == me for _, t in ran) and any(t != me for _, t in ran)


def test_a_pool_that_cannot_start_raises_in_the_issuing_process() -> None:
    """A pool whose start fails (here: already shut down) raises its error where the job runs, once the
    chunks this process took itself are done; never a traceback from the starting thread."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    starting = b._PoolStart(pool)
    starting.ready.wait(5)
    with pytest.raises(RuntimeError, match="shutdown"):
        list(b._run_chunks(starting, len, [([1],), ([2, 2],)], 1))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 31, 32, 33, 100, 1001])
@pytest.mark.parametrize("size", [1, 8, 200])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_cover_every_row_once_in_order_with_a_small_tail(n: int, size: int, workers: int) -> None:
    work = list(range(n))
    chunks = b._chunks(work, size, workers)
    assert [x for c in chunks for x in c] == work and all(0 < len(c) <= size for c in chunks)
    if workers > 1 and n > size * b.POOL_AHEAD * workers:
        assert all(len(c) <= max(1, size // 8) for c in chunks[-b.POOL_AHEAD * workers :])


@pytest.mark.parametrize("backend", rs.BACKENDS)
def test_this_process_and_a_worker_issue_at_once_each_on_its_own_chain(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Two writers at once (this process and a pool worker: ``WAIT_FOR_WORKERS`` makes both take chunks
    even in a short job): every row issued once, each writer on its own audit chain, the log verifies; each
    writer draws its status indexes from its own residue class, so the two never pick the same one."""
    import json

    url = rs.registry_url(backend, tmp_path)
    monkeypatch.setattr(b, "WAIT_FOR_WORKERS", True)
    n = 600
    report = b.run_batch(rs.csv_bytes([rs.row(i) for i in range(n)]), home=home, url=url, type_code=rs.TYPE,
                         at=rs.NOW, actor="t", workers=2, chunk_size=40)  # fmt: skip
    assert report.issued == n
    with Registry.open(url) as reg:
        index_of = {r.id: r.status_index for r in reg.query(limit=None)}
        assert reg.count() == n and len(set(index_of.values())) == n
        assert reg.verify_audit().ok
        per_chain: dict[str, set[int]] = {}
        for e in reg.audit_entries():
            if e.action == "licence.issue":
                per_chain.setdefault(str(e.chain), set()).add(index_of[e.subject] % 2)
            if e.action == "audit.chain_close":
                assert json.loads(e.details)["transactions"] > 0
    assert "main" not in per_chain  # no clash sent a row to the checked path
    assert sorted(per_chain.values(), key=min) == [{0}, {1}]  # one residue class per writer


def test_a_job_leaves_the_callers_collector_as_it_found_it(home: Home, tmp_path: Path) -> None:
    """Thresholds restored, nothing left frozen; and a caller's own frozen objects (a pre-forking server's)
    stay frozen."""
    import gc

    data = rs.csv_bytes([rs.row(i) for i in range(30)])
    url = sqlite_url(tmp_path / "registry.sqlite")
    threshold, start = gc.get_threshold(), gc.get_freeze_count()  # another test may have frozen objects
    b.run_batch(data, home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t")
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == 0 if start == 0 else gc.get_freeze_count() >= start
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        b.run_batch(data, home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t")
        assert gc.get_threshold() == threshold and gc.get_freeze_count() >= mine
    finally:
        if start == 0:
            gc.unfreeze()


def test_the_writers_of_a_job_take_turns_to_checkpoint() -> None:
    """A checkpoint copies every writer's WAL frames: each of n writers checkpoints after 8·n of its own
    commits, offset by its slot, so the job checkpoints about every 8 commits of all its writers together
    (as one writer does alone), never twice at the same point, instead of n times as often."""
    import types

    def due(stride: int, slot: int, upto: int) -> list[int]:
        st = types.SimpleNamespace(stride=stride, slot=slot)
        return [t for t in range(1, upto + 1) if b._checkpoint_due(st, t)]  # type: ignore[arg-type]

    every = b.CHECKPOINT_EVERY
    assert due(1, 0, 4 * every) == [every, 2 * every, 3 * every, 4 * every]
    first, second = due(2, 0, 8 * every), due(2, 1, 8 * every)
    assert len(first) == len(second) == 4  # 16 commits each, 32 in all: 8 checkpoints in all, 4 each
    # with both writers committing at the same pace, their turns alternate, `every` commits of each apart
    assert sorted(first + second) == [every * k for k in range(1, 9)]


def test_checkpoints_restart_the_wal_under_the_writer_lock_and_back_off_from_a_lingering_reader(
    home: Home, tmp_path: Path
) -> None:
    """With two writers a passive checkpoint rarely finds the WAL free of an older snapshot, so the WAL never
    started over (0.6–1.2 GB over 100,000 licences). A worker's checkpoint now restarts it (``RESTART``: the
    file keeps its blocks, the next commit writes from its start) under the job's writer lock; a restart an
    outside reader blocks is tried again after twice as many checkpoints."""
    import fcntl
    import functools
    import sqlite3
    import threading

    db = tmp_path / "registry.sqlite"
    url = sqlite_url(db)
    b.run_batch(rs.csv_bytes([rs.row(i) for i in range(50)]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW,
                actor="t")  # fmt: skip
    entry = home.authority_for_type("11100000MB0143028R001")
    b._init_worker(b._Job(url, entry, functools.partial(home.signer, entry), rs.TYPE, rs.NOW, "t"))
    writer, reader = sqlite3.connect(db, isolation_level=None), sqlite3.connect(db, isolation_level=None)
    wal = tmp_path / "registry.sqlite-wal"

    def write() -> None:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE status_lists SET size = size + 1")
        writer.execute("COMMIT")

    def frames() -> int:
        """Frames in the WAL now (``wal_checkpoint`` answers (busy, frames in the log, frames copied))."""
        return int(writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])

    try:
        st = b._STATE
        assert st is not None and st.lock_fd is not None
        for _ in range(3):
            write()
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM licences").fetchone()  # a snapshot: frames before it must stay
        write()  # ... and one after it, which no checkpoint may copy while the snapshot lasts
        b._checkpoint(st)  # the restart waits RESTART_WAIT_MS for the reader, gives up, backs off
        assert (st.restart_every, st.next_restart) == (2, st.checkpoints + 2)
        reader.execute("COMMIT")
        b._checkpoint(st)  # not due yet: no restart tried
        assert (st.restart_every, st.next_restart) == (2, st.checkpoints + 1)
        before = frames()
        assert before >= 4

        holder = os.open(str(db) + ".lock", os.O_RDWR)  # another writer of the job holds the lock
        fcntl.flock(holder, fcntl.LOCK_EX)
        done = threading.Thread(target=b._checkpoint, args=(st,))
        done.start()
        done.join(0.5)
        assert done.is_alive(), "the restart did not wait for the job's writer lock"
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
        done.join(30)
        assert not done.is_alive()
        assert (st.restart_every, st.next_restart) == (1, st.checkpoints + 1)  # succeeded: every checkpoint again
        size = wal.stat().st_size
        write()
        assert frames() < before  # the WAL started over ...
        assert wal.stat().st_size == size > 0  # ... over the file's own blocks: not emptied, not extended
    finally:
        writer.close()
        reader.close()
        b._close_worker()


def test_deadlock_with_another_writer_rolls_back_and_the_rows_are_issued_once(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another PostgreSQL writer inserts status index Y, then X, while a batch transaction inserts X, then Y:
    each waits for the other. The server rolls the batch's transaction back (a deadlock); the batch must
    not stop with the driver's error but check its rows again and issue each exactly once (two workers
    drawing the same indexes did this at 100,000 rows: ``psycopg.errors.DeadlockDetected``)."""
    import threading
    import time

    import psycopg

    url = rs.registry_url("postgresql", tmp_path)
    entry = home.authority_for_type("11100000MB0143028R001")
    b.run_batch(rs.csv_bytes([rs.row(i) for i in range(3)]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW,
                actor="t")  # fmt: skip
    b._init_worker(b._Job(url, entry, functools.partial(home.signer, entry), rs.TYPE, rs.NOW, "t"))
    st = b._STATE
    assert st is not None
    x, y = 50_001, 50_002
    draws: Iterator[int] = iter([x, y, *range(60_000, 60_100)])
    monkeypatch.setattr(secrets, "randbelow", lambda n: next(draws))
    checked: list[bool] = []
    real_checked = b._issue_checked

    def spy(st: Any, rows: Any, prepared: Any, *, clashed: bool) -> Any:
        checked.append(clashed)
        return real_checked(st, rows, prepared, clashed=clashed)

    monkeypatch.setattr(b, "_issue_checked", spy)
    plan = b.plan_batch(rs.csv_bytes([rs.row(i) for i in range(100, 102)]), licence_type=st.licence_type,
                        authority=st.entry.authority, at=rs.NOW)  # fmt: skip
    raw = url.replace("postgresql+psycopg", "postgresql")
    insert = "INSERT INTO status_indexes (authority_code, idx, licence_id, allocated_at) VALUES (%s, %s, NULL, 'x')"
    result: dict[str, Any] = {}

    def batch() -> None:
        try:
            result["out"] = b._issue_rows(st, plan.rows, 100)
        except BaseException as exc:  # reported by the assertion below
            result["error"] = exc

    try:
        with psycopg.connect(raw) as other, psycopg.connect(raw, autocommit=True) as watch:
            other.execute("SET deadlock_timeout = '30s'")  # the batch's session detects the cycle first
            other.execute(insert, (entry.code, y))
            worker = threading.Thread(target=batch)
            worker.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the batch inserted X and waits for Y
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the batch never waited for the other writer's index")
            other.execute(insert, (entry.code, x))  # waits for the batch: a cycle, the batch is rolled back
            other.commit()
            worker.join(60)
        assert not worker.is_alive()
        assert "error" not in result, result.get("error")
        ids, skipped, _docs = result["out"]
        assert len(ids) == 2 and skipped == 0
        assert checked and checked[0] is True  # the conflict went to the checked path, not out of the job
    finally:
        b._close_worker()
    with Registry.open(url) as reg:
        recs = [reg.get(i) for i in ids]
        indexes = {r.status_index for r in recs if r is not None}
        assert len(indexes) == 2 and not indexes & {x, y}
        assert reg.count() == 5 and reg.verify_audit().ok


def test_a_serialization_failure_is_a_write_conflict_on_either_path(tmp_path: Path) -> None:
    """``40001`` / ``40P01`` from the server, raised through SQLAlchemy or straight from the driver (COPY),
    are one typed, retryable error; any other operational error stays a storage error."""
    from sqlalchemy.exc import OperationalError

    from elicense.errors import StorageError
    from elicense.registry import WriteConflict

    class ServerError(Exception):
        def __init__(self, state: str) -> None:
            super().__init__(f"server said {state}")
            self.sqlstate = state

    with Registry.open(sqlite_url(tmp_path / "registry.sqlite")) as reg:
        for state, expected in (("40001", WriteConflict), ("40P01", WriteConflict), ("53100", StorageError)):
            with pytest.raises(expected), reg.transaction():
                raise OperationalError("INSERT …", {}, ServerError(state))


def test_a_row_alone_is_retried_after_a_write_conflict_and_other_errors_stop_the_job(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row-by-row fallback: a conflict is tried again; a source id taken meanwhile counts as skipped;
    any other error is raised (it used to count the row as already issued)."""
    from elicense.errors import StorageError
    from elicense.registry import WriteConflict

    url, st = _worker(home)
    try:
        plan = b.plan_batch(rs.csv_bytes([rs.row(i) for i in range(200, 201)]), licence_type=st.licence_type,
                            authority=st.entry.authority, at=rs.NOW)  # fmt: skip
        (row,) = plan.rows
        real = b._issue_transaction
        outcomes: list[BaseException | None] = [WriteConflict("deadlock"), WriteConflict("deadlock"), None]

        def flaky(st: Any, rows: Any) -> Any:
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
            return real(st, rows)

        monkeypatch.setattr(b, "_issue_transaction", flaky)
        ids, skipped = b._issue_alone(st, row)
        assert len(ids) == 1 and skipped == 0 and not outcomes
        outcomes[:] = [DuplicateLicence("taken")]
        assert b._issue_alone(st, row) == ([], 1)
        outcomes[:] = [StorageError("disk full")]
        with pytest.raises(StorageError):
            b._issue_alone(st, row)
        outcomes[:] = [WriteConflict("deadlock")] * (b.WRITE_CONFLICT_RETRIES + 1)
        with pytest.raises(WriteConflict):
            b._issue_alone(st, row)
    finally:
        b._close_worker()
    with Registry.open(url) as reg:
        assert reg.count() == 4 and reg.verify_audit().ok


def test_a_process_whose_index_class_is_full_draws_from_the_whole_list(home: Home) -> None:
    """A process that issued far more than its share of a job fills its residue class before the list is half
    full (the list grows on the overall fill): its draws then come from the whole list, not a loop that
    never ends."""
    _, st = _worker(home)
    try:
        st.stride, st.slot = 2, 0
        assert all(i % 2 == 0 for i in b._draw(st, 400, set()))  # its own class while it has room
        for idx in range(0, st.size, 2):  # then every index of class 0 taken
            st.taken[idx >> 3] |= 1 << (idx & 7)
        st.known = sum(bin(byte).count("1") for byte in st.taken)
        assert st.known < st.size * 0.9
        drawn = b._draw(st, 50, set())
        assert len(set(drawn)) == 50 and all(i % 2 == 1 for i in drawn)
    finally:
        b._close_worker()
