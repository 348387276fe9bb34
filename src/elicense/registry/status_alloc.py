"""Status-list allocation: random indexes per authority, lists that grow (a part of the registry)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from elicense.registry import schema as s
from elicense.registry.records import RegistryError, StatusEntry, iso
from elicense.registry.store import Store

STATUS_LIST_SIZE = 131_072
"""Initial (and minimum) status-list length per authority: herd privacy."""
MAX_FILL = 0.5
"""A list doubles once this share of its indexes is allocated (random draws stay cheap)."""


_INSERT_INDEX = s.status_indexes.insert()
_TAKEN_SQL = "SELECT idx FROM status_indexes WHERE authority_code = ? AND idx IN (:)"
"""Taken indexes among a list (``(:)`` becomes one placeholder per index): the hot pre-check of bulk issuing."""
_TAKEN_SQL_PG = (
    "SELECT t.idx FROM unnest(%s::integer[]) AS t(idx), LATERAL "
    "(SELECT 1 FROM status_indexes s WHERE s.authority_code = %s AND s.idx = t.idx LIMIT 1) AS hit"
)
"""The same on PostgreSQL: the indexes sent as one array, and one primary-key probe each whatever the planner's
statistics say. ``idx IN (...)`` / ``= ANY`` let a planner that has not analysed the table yet (a fresh registry
filling up in one job: autovacuum's first ANALYZE comes a minute later) scan the authority's whole list and filter
it, a cost growing with every licence issued (measured: 2 ms at 6,400 rows, 7 ms at 11,600)."""


class StatusAllocator(Store):
    """Each authority's status list: its size, its taken indexes, random draws and growth."""

    def status_list_size(self, authority_code: str, *, conn: Connection | None = None) -> int:
        """Current length of the authority's status list (≥ 131,072)."""
        with self._conn(conn, write=False) as c:
            size = c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar()
        return int(size) if size is not None else STATUS_LIST_SIZE

    def allocate_status_index(
        self,
        authority_code: str,
        *,
        at: dt.datetime,
        licence_id: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Draw a random, unused index in the authority's status list and reserve it.

        Runs inside ``conn``'s transaction when given (so a crash before commit frees the
        index again). Collisions are retried; when they show that half of the list is in
        use, the list doubles (indexes already given out keep their meaning).
        """
        with self._conn(conn) as c:
            size = self._ensure_status_list(c, authority_code, at)
            for attempt in range(200):
                idx = secrets.randbelow(size)
                if self.claim_status_index(c, authority_code, idx, licence_id, at=at):
                    return idx
                if attempt % 8 == 7 or attempt == 0:
                    size = self._maybe_grow(c, authority_code, size)
        raise RegistryError(f"status list of {authority_code} is full", message_zh="状态列表已满")

    def claim_status_index(
        self,
        conn: Connection,
        authority_code: str,
        idx: int,
        licence_id: str | None,
        *,
        at: dt.datetime,
    ) -> bool:
        """Reserve a given index (drawn optimistically); ``False`` when it is taken."""
        try:
            with conn.begin_nested():
                conn.execute(
                    _INSERT_INDEX,
                    {"authority_code": authority_code, "idx": idx, "licence_id": licence_id, "allocated_at": iso(at)},
                )
        except IntegrityError:
            return False
        return True

    def ensure_status_list(self, authority_code: str, *, at: dt.datetime) -> int:
        """Create the authority's status list if missing; returns its size."""
        with self.reading() as c:
            size = c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar()
        if size is not None:
            return int(size)
        with self.transaction() as c:
            return self._ensure_status_list(c, authority_code, at)

    def taken_status_bitmap(self, authority_code: str, size: int) -> bytearray:
        """Bitmap (bit ``i`` set: index ``i`` is taken) of the authority's list, read once.

        One bit per index (a 10-million-entry list costs a few MB, not a set of ints), so
        a bulk issuer can draw free indexes without a database round trip per draw.
        """
        bits = bytearray((size + 7) // 8)
        q = select(s.status_indexes.c.idx).where(s.status_indexes.c.authority_code == authority_code)
        with self.reading() as c:
            for (idx,) in c.execution_options(yield_per=20_000).execute(q):
                if idx < size:
                    bits[idx >> 3] |= 1 << (idx & 7)
        return bits

    def lock_authority(self, conn: Connection, authority_code: str) -> None:
        """Serialise the writers of one authority's status list until ``conn``'s transaction ends.

        Only the rare paths take it (growing the list; re-checking a batch that hit a clash): on
        PostgreSQL the authority's ``status_lists`` row ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
        already is such a lock. The common path relies on the unique constraints instead.
        """
        if self.dialect == "postgresql":
            conn.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code).with_for_update()
            ).first()

    def taken_among(self, conn: Connection, authority_code: str, indexes: Sequence[int]) -> set[int]:
        """Which of ``indexes`` are already taken in the authority's list (one statement, sent as is)."""
        if not indexes:
            return set()
        if self.dialect == "postgresql":
            rows = conn.exec_driver_sql(_TAKEN_SQL_PG, ([int(i) for i in indexes], authority_code))
            return {int(r[0]) for r in rows}
        sql = _TAKEN_SQL.replace("(:)", "(" + ", ".join(["?"] * len(indexes)) + ")")
        return {int(r[0]) for r in conn.exec_driver_sql(sql, (authority_code, *(int(i) for i in indexes)))}

    def grow_status_list(self, conn: Connection, authority_code: str, size: int, *, incoming: int = 0) -> int:
        """Double the list until ``incoming`` more indexes keep it at most half full; returns the size.

        Counts the list once: call it when the caller's own estimate says growth is due.
        """
        return self._maybe_grow(conn, authority_code, size, incoming)

    def _ensure_status_list(self, c: Connection, authority_code: str, at: dt.datetime) -> int:
        q = select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
        size = c.execute(q).scalar()
        if size is not None:
            return int(size)
        try:
            with c.begin_nested():
                c.execute(
                    s.status_lists.insert().values(
                        authority_code=authority_code, size=STATUS_LIST_SIZE, created_at=iso(at)
                    )
                )
        except IntegrityError:  # created concurrently
            return int(c.execute(q).scalar_one())
        return STATUS_LIST_SIZE

    def _maybe_grow(self, c: Connection, authority_code: str, size: int, incoming: int = 0) -> int:
        used = c.execute(
            select(func.count())
            .select_from(s.status_indexes)
            .where(s.status_indexes.c.authority_code == authority_code)
        ).scalar_one()
        if used + incoming < size * MAX_FILL:
            return size
        new = size * 2
        while used + incoming >= new * MAX_FILL:
            new *= 2
        c.execute(
            s.status_lists.update()
            .where(s.status_lists.c.authority_code == authority_code, s.status_lists.c.size == size)
            .values(size=new)
        )
        return int(
            c.execute(
                select(s.status_lists.c.size).where(s.status_lists.c.authority_code == authority_code)
            ).scalar_one()
        )

    def status_entries(self, authority_code: str) -> list[StatusEntry]:
        """Every allocated index of the authority with its licence's current status."""
        q = (
            select(s.licences.c.status_index, s.licences.c.id, s.licences.c.status)
            .where(
                s.licences.c.authority_code == authority_code,
                s.licences.c.status_index.is_not(None),
            )
            .order_by(s.licences.c.status_index)
        )
        with self.reading() as conn:
            return [StatusEntry(int(r[0]), r[1], r[2]) for r in conn.execute(q)]
