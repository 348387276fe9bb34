"""The bulk path's set lookups: the right answer on both backends, and on PostgreSQL one key probe per value
even before the planner has statistics (a registry filling up in one job is never analysed during it)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import registry_support as rs
from elicense.registry import Registry
from elicense.registry.licences import _SOURCES_SQL_PG
from elicense.registry.status_alloc import _TAKEN_SQL_PG

AUTH, OTHER, TYPE = "11370100MB28571989", "11110000000013127D", "11100000MB0143028R001"
ROWS = 4_000


def _fill(conn: Any, dialect: str) -> None:
    """``ROWS`` taken indexes (0, 3, 6, ...) and licences (source ids ``s0``, ``s3``, ...) of ``AUTH``, and the
    same numbers for ``OTHER``: plain inserts, no ANALYZE."""
    for code in (AUTH, OTHER):
        conn.exec_driver_sql(
            "INSERT INTO status_lists (authority_code, size, created_at) VALUES (?, 131072, 'x')".replace(
                "?", "?" if dialect == "sqlite" else "%s"
            ),
            (code,),
        )
    ph = "?" if dialect == "sqlite" else "%s"
    idx_rows = [(code, 3 * i, f"{code}-{i}", "x") for code in (AUTH, OTHER) for i in range(ROWS)]
    conn.exec_driver_sql(
        f"INSERT INTO status_indexes (authority_code, idx, licence_id, allocated_at) VALUES ({ph}, {ph}, {ph}, {ph})",
        idx_rows,
    )
    columns = ("id", "type_code", "authority_code", "serial", "version", "number", "holder_name", "holder_code",
               "holder_type", "issued_on", "valid_from", "status", "status_index", "source_id", "kid",
               "record_json", "full_payload", "qr_payload", "digest", "signed_at", "updated_at")  # fmt: skip
    head = ("name", "code", "01", "2026-01-01", "2026-01-01", "valid")  # holder, dates, status
    tail = ("k", "{}", b"p", "q", "d", "t", "t")  # kid, record, payloads, digest, times
    lic_rows = [
        (f"{code}-{i}", TYPE, code, f"S{i}", 1, f"N{i}", *head, 3 * i, f"s{3 * i}", *tail)
        for code in (AUTH, OTHER)
        for i in range(ROWS)
    ]
    conn.exec_driver_sql(
        f"INSERT INTO licences ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})",
        lic_rows,
    )


@pytest.fixture(params=rs.BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    url = rs.registry_url(str(request.param), tmp_path)
    with Registry.open(url) as reg:
        with reg.transaction() as conn:
            _fill(conn, reg.dialect)
        yield reg


def test_taken_among_answers_exactly_the_taken_indexes_of_that_authority(filled: Registry) -> None:
    probe = [0, 1, 2, 3, 3 * (ROWS - 1), 3 * ROWS, 9, 10, 11_999, 12_000]
    with filled.reading() as conn:
        assert filled.taken_among(conn, AUTH, probe) == {0, 3, 3 * (ROWS - 1), 9, 11_997} & set(probe)
        assert filled.taken_among(conn, AUTH, []) == set()
        assert filled.taken_among(conn, "91110000000000000X", probe) == set()


def test_sources_among_answers_exactly_the_issued_source_ids_of_that_authority_and_type(filled: Registry) -> None:
    probe = ["s0", "s1", "s3", f"s{3 * (ROWS - 1)}", f"s{3 * ROWS}", "s9", "S9", "", "s0"]
    with filled.reading() as conn:
        assert filled.sources_among(conn, AUTH, TYPE, probe) == {"s0", "s3", f"s{3 * (ROWS - 1)}", "s9"}
        assert filled.sources_among(conn, AUTH, "11100000MB0143028R002", probe) == set()
        assert filled.sources_among(conn, AUTH, TYPE, []) == set()


def _scans(plan: Mapping[str, Any], table: str) -> Iterator[Mapping[str, Any]]:
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child, table)


@pytest.mark.parametrize(
    ("sql", "params", "table", "probe"),
    [
        (_TAKEN_SQL_PG, (list(range(0, 200, 2)), AUTH), "status_indexes", "idx = t.idx"),
        (_SOURCES_SQL_PG, ([f"s{i}" for i in range(100)], AUTH, TYPE), "licences", "source_id = t.sid"),
    ],
    ids=["status_indexes", "licences"],
)
def test_unanalysed_table_is_probed_by_key_not_scanned_and_filtered(
    tmp_path: Path, sql: str, params: tuple[Any, ...], table: str, probe: str
) -> None:
    """The attack on throughput an ``IN`` list suffered: with no statistics, PostgreSQL planned
    ``authority_code = $1`` as the index condition and ``idx IN (...)`` as a filter, reading the authority's
    whole list per check: 2 ms at 6,400 licences, 7 ms at 11,600, growing with every licence a job issued."""
    url = rs.registry_url("postgresql", tmp_path)
    with Registry.open(url) as reg:
        with reg.transaction() as conn:
            _fill(conn, reg.dialect)
        with reg.reading() as conn:
            reltuples = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = %s", (table,)).scalar()
            assert reltuples is not None and reltuples <= 0, "the test needs a table the planner has no rows for"
            (plan_json,) = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).one()
            doc = plan_json if isinstance(plan_json, list) else json.loads(plan_json)
            scans = list(_scans(doc[0]["Plan"], table))
            assert scans, doc
            for scan in scans:
                assert scan["Node Type"] in {"Index Scan", "Index Only Scan"}, doc
                assert probe in scan["Index Cond"], doc
                assert "Filter" not in scan, doc
