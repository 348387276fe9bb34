"""Stored licences: look-ups, queries and status changes (a part of :class:`~elicense.registry.Registry`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from elicense.errors import UsageError
from elicense.model import LicenceStatus, require_utc
from elicense.registry import schema as s
from elicense.registry.auditing import AuditLog
from elicense.registry.records import (
    LicenceRecord,
    MissingStatusIndex,
    RegistryError,
    StatusTransitionError,
    iso,
    parse_iso,
    record_from_row,
)

ALLOWED_TRANSITIONS: Mapping[LicenceStatus, frozenset[LicenceStatus]] = {
    LicenceStatus.VALID: frozenset({LicenceStatus.SUSPENDED, LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}),
    LicenceStatus.SUSPENDED: frozenset({LicenceStatus.VALID, LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED}),
    LicenceStatus.REVOKED: frozenset(),
    LicenceStatus.SUPERSEDED: frozenset(),
}
"""Lifecycle: revoked and superseded are final; suspended can be reinstated."""

_ACTION_FOR = {
    LicenceStatus.VALID: "licence.reinstate",
    LicenceStatus.SUSPENDED: "licence.suspend",
    LicenceStatus.REVOKED: "licence.revoke",
    LicenceStatus.SUPERSEDED: "licence.supersede",
}


SOURCE_LOOKUP = select(s.licences.c.id).where(
    s.licences.c.authority_code == bindparam("a"),
    s.licences.c.type_code == bindparam("t"),
    s.licences.c.source_id == bindparam("sid"),
)
"""Licence id for (authority ``a``, type ``t``, source id ``sid``)."""


_SOURCES_SQL_PG = (
    "SELECT t.sid FROM unnest(%s::text[]) AS t(sid), LATERAL (SELECT 1 FROM licences l WHERE "
    "l.authority_code = %s AND l.type_code = %s AND l.source_id = t.sid LIMIT 1) AS hit"
)
""":meth:`LicenceStore.sources_among` on PostgreSQL: a probe of ``uq_licence_source`` per source id, whatever the
planner's statistics say (an ``IN`` list on a table not analysed yet scans the authority's licences and filters)."""


class LicenceStore(AuditLog):
    """Licences as stored: by id, by source key, by filter; their status history and changes."""

    def sources_among(
        self, conn: Connection, authority_code: str, type_code: str, source_ids: Sequence[str]
    ) -> set[str]:
        """Which of ``source_ids`` the registry already holds for (authority, type) (one statement)."""
        if not source_ids:
            return set()
        if self.dialect == "postgresql":  # one probe of the unique key each (see status_alloc._TAKEN_SQL_PG)
            rows = conn.exec_driver_sql(_SOURCES_SQL_PG, (list(source_ids), authority_code, type_code))
            return {str(r[0]) for r in rows}
        q = select(s.licences.c.source_id).where(
            s.licences.c.authority_code == authority_code,
            s.licences.c.type_code == type_code,
            s.licences.c.source_id.in_(bindparam("sids", expanding=True)),
        )
        return {str(r[0]) for r in conn.execute(q, {"sids": list(source_ids)})}

    def get(self, licence_id: str) -> LicenceRecord | None:
        """The licence with this id."""
        with self.reading() as conn:
            row = conn.execute(select(s.licences).where(s.licences.c.id == licence_id)).first()
        return record_from_row(row) if row is not None else None

    def find_source(self, authority_code: str, type_code: str, source_id: str) -> LicenceRecord | None:
        """The licence issued for a source-system business key."""
        with self.reading() as conn:
            row = conn.execute(
                select(s.licences).where(
                    s.licences.c.authority_code == authority_code,
                    s.licences.c.type_code == type_code,
                    s.licences.c.source_id == source_id,
                )
            ).first()
        return record_from_row(row) if row is not None else None

    def issued_sources(self, authority_code: str, type_code: str) -> dict[str, str]:
        """source id → licence id of everything already issued for (authority, type)."""
        with self.reading() as conn:
            return {
                r[0]: r[1]
                for r in conn.execute(
                    select(s.licences.c.source_id, s.licences.c.id).where(
                        s.licences.c.authority_code == authority_code,
                        s.licences.c.type_code == type_code,
                        s.licences.c.source_id.is_not(None),
                    )
                )
            }

    def query(
        self,
        *,
        type_code: str | None = None,
        holder_code: str | None = None,
        status: str | None = None,
        authority_code: str | None = None,
        source_id: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[LicenceRecord]:
        """Licences matching every given filter, in id order."""
        q = select(s.licences).order_by(s.licences.c.id).offset(offset)
        for col, value in (
            (s.licences.c.type_code, type_code),
            (s.licences.c.holder_code, holder_code),
            (s.licences.c.status, status),
            (s.licences.c.authority_code, authority_code),
            (s.licences.c.source_id, source_id),
        ):
            if value is not None:
                q = q.where(col == value)
        if limit is not None:
            q = q.limit(limit)
        with self.reading() as conn:
            return [record_from_row(r) for r in conn.execute(q)]

    def count(self, **filters: str | None) -> int:
        """Number of licences matching ``filters`` (same names as :meth:`query`)."""
        q = select(func.count()).select_from(s.licences)
        for name, value in filters.items():
            if value is not None:
                q = q.where(s.licences.c[name] == value)
        with self.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def set_status(
        self,
        licence_id: str,
        status: LicenceStatus | str,
        reason: str | None,
        at: dt.datetime,
        actor: str,
        *,
        conn: Connection | None = None,
        effective_at: dt.datetime | None = None,
        successor: str | None = None,
    ) -> LicenceRecord:
        """Change a licence's status (with a status event and an audit entry, one transaction).

        ``at`` is when the change is recorded; ``effective_at`` (default ``at``) when it
        takes legal effect, earlier (back-dated) or later (scheduled). The ``status``
        column is the latest *recorded* status; :meth:`status_at` gives the one in
        effect at a time. ``successor`` (for a supersession) is stored on the event and
        on the licence row.
        """
        new = LicenceStatus(status)
        if reason is not None and len(reason) > 256:
            raise UsageError("reason is longer than 256 characters")
        if successor is not None and (new is not LicenceStatus.SUPERSEDED or len(successor) > 128):
            raise UsageError("only a supersession names a successor (an id of at most 128 characters)")
        effective = at if effective_at is None else effective_at
        with self._conn(conn) as c:
            row = c.execute(
                select(s.licences.c.status, s.licences.c.status_index)
                .where(s.licences.c.id == licence_id)
                .with_for_update()
            ).first()
            if row is None:
                raise RegistryError(f"no licence {licence_id}", message_zh=f"证照不存在：{licence_id}")
            if row.status_index is None:  # a row from before #16: the change could never be published
                raise MissingStatusIndex(
                    f"licence {licence_id} has no status index: its status cannot be changed in a way verifiers "
                    "would see; re-issue it with a status index and revoke this one by superseding it offline",
                    message_zh=f"证照 {licence_id} 没有状态列表索引，状态变更无法被校验方获知；请重新签发带索引的证照",
                    details={"licence_id": licence_id},
                )
            old = LicenceStatus(row.status)
            if new not in ALLOWED_TRANSITIONS[old]:
                raise StatusTransitionError(
                    f"cannot change {licence_id} from {old.value} to {new.value}",
                    message_zh=f"证照状态不能从 {old.value} 变为 {new.value}",
                    details={"from": old.value, "to": new.value},
                )
            values: dict[str, Any] = {"status": new.value, "updated_at": iso(at)}
            if successor is not None:
                values["successor"] = successor
            c.execute(s.licences.update().where(s.licences.c.id == licence_id).values(**values))
            c.execute(
                s.status_events.insert().values(
                    licence_id=licence_id,
                    status=new.value,
                    previous=old.value,
                    reason=reason,
                    at=iso(at),
                    actor=actor,
                    effective_at=iso(effective),
                    successor=successor,
                )
            )
            details: dict[str, Any] = {"from": old.value, "to": new.value, "reason": reason,
                                       "effective_at": iso(effective)}  # fmt: skip
            if successor is not None:
                details["successor"] = successor
            self.audit(c, action=_ACTION_FOR[new], subject=licence_id, actor=actor, at=at, details=details)
        record = self.get(licence_id) if conn is None else None
        if record is None:
            with self._conn(conn, write=False) as c:
                record = record_from_row(c.execute(select(s.licences).where(s.licences.c.id == licence_id)).one())
        return record

    def status_at(self, licence_id: str, when: dt.datetime) -> dict[str, Any] | None:
        """The status in effect at ``when``: ``{status, since, reason, successor}``.

        ``None`` when the licence was not yet signed then; a change recorded but
        effective later (scheduled) is not in effect before its effective time.
        """
        record = self.get(licence_id)
        if record is None:
            raise RegistryError(f"no licence {licence_id}", message_zh=f"证照不存在：{licence_id}")
        moment = require_utc(when, "when")
        if parse_iso(record.signed_at) > moment:
            return None
        out: dict[str, Any] = {"status": LicenceStatus.VALID.value, "since": record.signed_at, "reason": None,
                               "successor": None}  # fmt: skip
        for e in self.status_events(licence_id):
            if parse_iso(e["effective_at"] or e["at"]) <= moment:
                out = {"status": e["status"], "since": e["effective_at"], "reason": e["reason"],
                       "successor": e["successor"]}  # fmt: skip
        return out

    def status_events(self, licence_id: str) -> list[dict[str, Any]]:
        """The licence's status history, oldest first (``at`` recorded, ``effective_at`` in effect)."""
        with self.reading() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(s.status_events)
                    .where(s.status_events.c.licence_id == licence_id)
                    .order_by(s.status_events.c.id)
                )
            ]
