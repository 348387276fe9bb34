"""Shared helpers for the registry tests: a demo home, CSV rows, a throwaway PostgreSQL.

The PostgreSQL server is started once per test process, on loopback with a random
port, in a temporary directory (``initdb`` + ``pg_ctl``); as root it runs as the
``postgres`` (or ``nobody``) user through ``runuser``. When no server can be started
the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import glob
import io
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elicense.home import Home
    from elicense.registry import Registry

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
TYPE = "business-licence"
HEADER = [
    "source_id", "number", "holder_name", "holder_code", "issued_on", "entity_type",
    "legal_representative", "registered_capital", "capital_currency", "establishment_date",
    "domicile", "business_scope",
]  # fmt: skip

_HOME_CACHE: Path | None = None


def demo_home(dest: Path) -> Path:
    """A copy of a deterministic demo home (built once per process) without its registry."""
    global _HOME_CACHE
    if _HOME_CACHE is None:
        from elicense.demo import build_demo

        base = Path(tempfile.mkdtemp(prefix="elicense-reg-home-"))
        atexit.register(shutil.rmtree, base, True)
        build_demo(base / "home", now=NOW, seed=b"registry-tests", images=False)
        for f in (base / "home").glob("registry.sqlite*"):
            f.unlink()
        _HOME_CACHE = base / "home"
    shutil.copytree(_HOME_CACHE, dest, ignore=shutil.ignore_patterns("registry.sqlite*", "licences"))
    return dest


def row(i: int, *, prefix: str = "P") -> list[str]:
    """One valid paper-era 营业执照 row."""
    from elicense.identifiers import USCC

    code = str(USCC.build("91", "370102", f"MA{i:06d}"))
    return [
        f"{prefix}-{i:06d}", f"3701000{i:08d}", f"济南第{i}号科技有限公司", code, "2015-03-02",
        "有限责任公司", "王堃", "100.00", "人民币", "2015-02-01", f"山东省济南市历下区经十路 {i} 号",
        "软件开发；信息技术咨询服务。",
    ]  # fmt: skip


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8", header: list[str] | None = None) -> bytes:
    """Rows as CSV bytes."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header or HEADER)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


# --------------------------------------------------------------------------- PostgreSQL

_PG: dict[str, object] = {}


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start() -> str:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"psycopg not importable: {exc}") from exc
    base = Path(tempfile.mkdtemp(prefix="elicense-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if runuser is None or user is None:
            raise RuntimeError("running as root and neither runuser nor a postgres/nobody user is available")
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = [runuser, "-u", user, "--"]
    data = base / "data"
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "elicense", "-E", "UTF8",
                    "--no-sync", "--no-instructions"],
                   check=True, capture_output=True, env=env, timeout=120)  # fmt: skip
    opts = f"-h 127.0.0.1 -p {port} -k {base} -F -c max_connections=60 -c fsync=off"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "-t", "60",
                    "start"], check=True, capture_output=True, env=env, timeout=90)  # fmt: skip

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+psycopg://elicense@127.0.0.1:{port}"


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def pg_server() -> str:
    """Base URL of the process's throwaway server (raises ``RuntimeError`` if none can start)."""
    if "url" not in _PG:
        if "error" in _PG:
            raise RuntimeError(str(_PG["error"]))
        try:
            _PG["url"] = _start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            _PG["error"] = f"{exc} {detail.decode(errors='replace')[-400:]}".strip()
            raise RuntimeError(str(_PG["error"])) from exc
    return str(_PG["url"])


BACKENDS = ("sqlite", "postgresql")
"""The registry's database backends, for tests parametrized over both."""


def registry_url(backend: str, tmp_path: Path) -> str:
    """A fresh registry on ``backend``: a file in ``tmp_path``, or a new database on the throwaway
    PostgreSQL server (the test is skipped, saying why, where none can start)."""
    import pytest

    from elicense.registry import sqlite_url

    if backend == "sqlite":
        return sqlite_url(tmp_path / "registry.sqlite")
    try:
        return pg_database()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL server could be started here: {exc}")


def pg_database() -> str:
    """URL of a fresh, empty database on the throwaway server."""
    import psycopg

    base = pg_server()
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


# --------------------------------------------------------------------------- audit chains (schema v3)


def batch_chains(home: Home, url: str, n: int, *, first: int = 0, workers: int = 2, chunk: int = 40) -> int:
    """Issue rows ``first..first+n`` of the test CSV with ``workers`` processes; returns how many were issued."""
    from elicense.registry.batch import run_batch

    data = csv_bytes([row(i) for i in range(first, first + n)])
    report = run_batch(
        data, home=home, url=url, type_code=TYPE, at=NOW, actor="chain-test", workers=workers, chunk_size=chunk
    )
    return report.issued


def tamper(reg: Registry, *sql: str) -> None:
    """Run ``sql`` bypassing the append-only triggers, as an attacker with database access would."""
    from sqlalchemy import text

    with reg.engine.begin() as conn:
        if reg.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        for stmt in sql:
            conn.execute(text(stmt))


def writer_chains(reg: Registry) -> dict[str, list[int]]:
    """Writer chain → global seqs of its entries, in chain order."""
    out: dict[str, list[int]] = {}
    for e in reg.audit_entries():
        if e.chain not in (None, "main"):
            out.setdefault(str(e.chain), []).append(e.seq)
    return out
