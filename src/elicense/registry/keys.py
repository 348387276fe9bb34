"""The registry's signing-key references and seals (a part of :class:`~elicense.registry.Registry`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, select

from elicense.crypto.keys import key_id
from elicense.errors import UsageError
from elicense.registry import schema as s
from elicense.registry.auditing import AuditLog
from elicense.registry.records import iso


class KeyStore(AuditLog):
    """Key references (never key material) and seals, each registration audited."""

    def register_key(
        self,
        authority_code: str,
        certificate: x509.Certificate,
        key_ref: str,
        *,
        at: dt.datetime,
        actor: str,
        conn: Connection | None = None,
    ) -> str:
        """Record a signing key *reference* (never key material); idempotent. Returns the kid."""

        if "PRIVATE KEY" in key_ref:
            raise UsageError("key_ref must be a reference (path or URI), not key material")
        kid = key_id(certificate).hex()
        with self._conn(conn) as c:
            exists = c.execute(
                select(s.issuer_keys.c.kid).where(
                    s.issuer_keys.c.authority_code == authority_code, s.issuer_keys.c.kid == kid
                )
            ).first()
            if exists is None:
                pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
                c.execute(
                    s.issuer_keys.insert().values(
                        authority_code=authority_code,
                        kid=kid,
                        cert_pem=pem,
                        key_ref=key_ref,
                        registered_at=iso(at),
                    )
                )
                self.audit(
                    c,
                    action="key.register",
                    subject=authority_code,
                    actor=actor,
                    at=at,
                    details={
                        "kid": kid,
                        "key_ref": key_ref,
                        "subject": certificate.subject.rfc4514_string(),
                    },
                )
        return kid

    def keys(self, authority_code: str | None = None) -> list[dict[str, Any]]:
        """Registered key references."""
        q = select(s.issuer_keys).order_by(s.issuer_keys.c.authority_code, s.issuer_keys.c.registered_at)
        if authority_code:
            q = q.where(s.issuer_keys.c.authority_code == authority_code)
        with self.reading() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def register_seal(
        self,
        authority_code: str,
        name: str,
        *,
        kid: str | None,
        at: dt.datetime,
        actor: str,
        conn: Connection | None = None,
    ) -> None:
        """Record an authority's seal (name and the key that signs with it); idempotent."""
        with self._conn(conn) as c:
            exists = c.execute(
                select(s.seals.c.id).where(s.seals.c.authority_code == authority_code, s.seals.c.name == name)
            ).first()
            if exists is None:
                c.execute(
                    s.seals.insert().values(authority_code=authority_code, name=name, kid=kid, registered_at=iso(at))
                )
                self.audit(
                    c,
                    action="seal.register",
                    subject=authority_code,
                    actor=actor,
                    at=at,
                    details={"name": name, "kid": kid},
                )
