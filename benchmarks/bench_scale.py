"""Scale (issue #8, item 6): a 10-million-entry status list, 100,000-licence registry issuance,
and the memory of a kiosk holding a 30-region bundle with 10 million status entries.

    .venv/bin/python benchmarks/bench_scale.py [--part status,registry,memory] [--entries 10000000]
        [--rows 100000] [--regions 30] [--workers 2] [--no-pg] [--quick]

Every figure comes with a baseline measured in the same run:

* status list: signed size vs the raw 2-bit bitstring; load (COSE parse + signature verify +
  bounded gzip inflate + bounds) vs raw ``zlib.decompress`` of the same gzip bytes plus one raw
  ``cryptography`` P-256 verify of the same to-be-signed bytes; lookup vs a raw bit extraction;
* registry: ``run_batch`` licences/s (SQLite, and PostgreSQL on a throwaway loopback server, as the
  registry tests start one) vs a raw DB-API ``executemany`` of the very rows the batch wrote, and vs
  raw ES256 signing (two signatures per licence) on the same number of cores;
* memory: a fresh process that loads the bundle with ``Verifier.from_bundle`` and verifies one QR,
  peak and current RSS (``/proc/self/status``) vs a fresh process importing exactly the same modules.

Besides the human-readable lines, each figure is printed as ``RESULT {json}`` for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOW = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)
SEED = b"bench-scale"
HERE = Path(__file__).resolve().parent
MEMORY_TARGET_MB = 200
# Province-level codes (GB/T 2260) besides the demo's 370000 and 320000, for the synthetic regions.
EXTRA_REGIONS = (
    "110000",
    "120000",
    "130000",
    "140000",
    "150000",
    "210000",
    "220000",
    "230000",
    "310000",
    "330000",
    "340000",
    "350000",
    "360000",
    "410000",
    "420000",
    "430000",
    "440000",
    "450000",
    "460000",
    "500000",
    "510000",
    "520000",
    "530000",
    "540000",
    "610000",
    "620000",
    "630000",
    "640000",
    "650000",
)


def result(
    figure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_unit: str = "",
    baseline_label: str = "",
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
) -> None:
    """One machine-readable figure for ``run_all.py`` (ratio: × the baseline's cost)."""
    print(
        "RESULT "
        + json.dumps(
            {
                "figure": figure,
                "value": value,
                "unit": unit,
                "baseline": baseline,
                "baseline_unit": baseline_unit,
                "baseline_label": baseline_label,
                "ratio": ratio,
                "target": target,
                "met": met,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def best(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls (seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def list_size(entries: int) -> int:
    from elicense.status.statuslist import MIN_ENTRIES

    return max(MIN_ENTRIES, -(-entries // 8) * 8)


def not_valid_entries(
    size: int, share: float, rng: random.Random, *, keep: frozenset[int] = frozenset(), details: bool = False
) -> list[Any]:
    """A random ``share`` of entries revoked / suspended (``keep`` stays valid)."""
    from elicense.status.reasons import ListState
    from elicense.status.statuslist import Entry

    states = (ListState.REVOKED, ListState.SUSPENDED, ListState.REVOKED)
    picks = [i for i in rng.sample(range(size), int(size * share)) if i not in keep]
    if details:
        return [Entry(i, states[n % 3], None, NOW - dt.timedelta(minutes=n)) for n, i in enumerate(picks)]
    return [Entry(i, states[n % 3]) for n, i in enumerate(picks)]


# -- a: one status list of N entries ------------------------------------------------------------


def status_part(home: Any, entries: int, share: float, quick: bool) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from elicense.qr import cbor
    from elicense.qr.cose import parse_sign1
    from elicense.status.statuslist import sign_status_list
    from elicense.status.store import StatusStore

    entry = home.authorities[0]
    signer = home.signer(entry)
    trust = home.trust_store()
    size = list_size(entries)
    rng = random.Random(1)
    es = not_valid_entries(size, share, rng)
    t0 = time.perf_counter()
    data = sign_status_list(signer, issuer=entry.code, sequence=1, issued_at=NOW, entries=es, size=size)
    t_build = time.perf_counter() - t0
    detailed = sign_status_list(
        signer,
        issuer=entry.code,
        sequence=1,
        issued_at=NOW,
        size=size,
        entries=not_valid_entries(size, share, random.Random(1), details=True),
    )
    repeat = 3 if quick else 5
    holder: list[StatusStore] = []

    def load() -> None:
        holder[:] = [StatusStore.build(trust, status_lists=[data], unsafe_skip_crls=True)]

    t_load = best(load, repeat)
    store = holder[0]
    assert not store.problems, store.problems
    assert entry.code in store.lists
    # raw primitives over the very same bytes
    msg = parse_sign1(data)
    gz = cbor.loads(msg.payload, max_depth=4)["lst"]
    t_inflate = best(lambda: zlib.decompress(gz, wbits=31), repeat)
    key = signer.certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    tbs = msg.to_be_signed()
    der = encode_dss_signature(int.from_bytes(msg.signature[:32], "big"), int.from_bytes(msg.signature[32:], "big"))
    t_verify = best(lambda: key.verify(der, tbs, ec.ECDSA(hashes.SHA256())), repeat * 4)
    raw_load = t_inflate + t_verify
    # lookups: the verifier's per-licence check vs a bare bit extraction from the same bytes
    idx = [rng.randrange(size) for _ in range(2000)]
    code, bits = entry.code, store.lists[entry.code].bits

    def lookups() -> None:
        for i in idx:
            store.check_licence(code, i, NOW)

    def raw_lookups() -> None:
        for i in idx:
            (bits[i >> 2] >> (6 - ((i & 3) << 1))) & 3

    per = best(lookups, 10) / len(idx)
    raw_per = best(raw_lookups, 10) / len(idx)
    print(
        f"status list {size:,} entries, {len(es):,} not valid: {len(data):,} B signed (bits only), "
        f"{len(detailed):,} B with a reason+time per non-valid entry; raw bitstring {size // 4:,} B; "
        f"build+sign {t_build * 1e3:.0f} ms"
    )
    print(
        f"  load (parse + verify + inflate + bounds) {t_load * 1e3:.1f} ms vs raw zlib inflate "
        f"{t_inflate * 1e3:.1f} ms + raw P-256 verify {t_verify * 1e3:.2f} ms = {raw_load * 1e3:.1f} ms "
        f"({t_load / raw_load:.2f}x)"
    )
    print(
        f"  lookup (StatusStore.check_licence) {per * 1e6:.2f} µs vs raw bit extraction {raw_per * 1e6:.3f} µs "
        f"({per / raw_per:.1f}x)"
    )
    label = f"status list {size / 1e6:g}M entries"
    result(
        f"{label}: signed size, {share:.0%} not valid",
        len(data),
        "B",
        baseline=size // 4,
        baseline_unit="B",
        baseline_label="raw 2-bit bitstring",
        ratio=len(data) / (size // 4),
    )
    result(
        f"{label}: signed size with details",
        len(detailed),
        "B",
        baseline=size // 4,
        baseline_unit="B",
        baseline_label="raw 2-bit bitstring",
        ratio=len(detailed) / (size // 4),
    )
    result(
        f"{label}: load (verify+inflate)",
        t_load * 1e3,
        "ms",
        baseline=raw_load * 1e3,
        baseline_unit="ms",
        baseline_label="raw zlib inflate + P-256 verify",
        ratio=t_load / raw_load,
    )
    result(
        f"{label}: lookup",
        per * 1e6,
        "µs",
        baseline=raw_per * 1e6,
        baseline_unit="µs",
        baseline_label="raw bit extraction",
        ratio=per / raw_per,
    )


# -- b: registry issuance -----------------------------------------------------------------------


def _rows_of(url: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every row the batch wrote, table by table (what the raw-insert baseline writes again)."""
    from sqlalchemy import create_engine, select

    from elicense.registry.schema import metadata

    engine = create_engine(url)
    out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = [tuple(r) for r in conn.execute(select(table))]
                if rows:
                    out[table.name] = ([c.name for c in table.columns], rows)
    finally:
        engine.dispose()
    return out


def _raw_insert(url: str, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> float:
    """Seconds for a bare DB-API ``executemany`` of ``tables`` into an empty copy of the schema."""
    from sqlalchemy import create_engine

    from elicense.registry.schema import metadata

    engine = create_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()
    if url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        mark = "?"
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
        mark = "%s"
    try:
        t0 = time.perf_counter()
        cur = conn.cursor()
        for name, (cols, rows) in tables.items():
            sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
            cur.executemany(sql, rows)
        conn.commit()
        return time.perf_counter() - t0
    finally:
        conn.close()


def _sign_rate(home: Any, seconds: float = 1.0) -> float:
    """Raw ES256 signatures per second of one core with the issuing key."""
    signer = home.signer(home.authorities[0])
    msg = b"x" * 300
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            signer.sign(msg)
        n += 200
    return n / (time.perf_counter() - t0)


def registry_part(rows: int, workers: int, no_pg: bool) -> None:
    sys.path.insert(0, str(HERE.parent / "tests"))
    import registry_support as rs
    from elicense.home import Home
    from elicense.registry import Registry, sqlite_url
    from elicense.registry.batch import run_batch

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-reg-"))
    try:
        base = Home.load(rs.demo_home(tmp / "base"))
        sign_rate = _sign_rate(base)
        data = rs.csv_bytes([rs.row(i) for i in range(rows)])
        floor = sign_rate * workers / 2  # two signatures per licence (QR claims + full record), on `workers` cores
        for backend in ("sqlite", "postgresql"):
            label = (
                f"registry issuance {rows:,} licences, {'SQLite' if backend == 'sqlite' else 'PostgreSQL'}, "
                f"{workers} workers"
            )
            home = Home.load(rs.demo_home(tmp / backend))
            if backend == "sqlite":
                url, raw_url = sqlite_url(home.path / "registry.sqlite"), sqlite_url(tmp / "raw.sqlite")
            else:
                if no_pg:
                    print("postgresql: skipped (--no-pg)")
                    continue
                try:
                    url, raw_url = rs.pg_database(), rs.pg_database()
                except RuntimeError as exc:
                    print(f"postgresql: NOT MEASURED, no throwaway server could be started: {exc}")
                    result(label, float("nan"), "licences/s", baseline_label=f"not measured: {exc}"[:120])
                    continue
            t0 = time.perf_counter()
            report = run_batch(
                data, home=home, url=url, type_code=rs.TYPE, at=NOW, actor="bench", workers=workers, chunk_size=250
            )
            wall = time.perf_counter() - t0
            assert report.issued == rows, report
            with Registry.open(url) as reg:
                assert reg.count() == rows
            tables = _rows_of(url)
            n_rows = sum(len(r) for _, r in tables.values())
            t_raw = _raw_insert(raw_url, tables)
            rate, raw_rate = rows / wall, rows / t_raw
            print(
                f"{label}: {wall:.1f} s = {rate:.0f} licences/s; raw executemany of the same {n_rows:,} rows "
                f"({', '.join(tables)}) {t_raw:.2f} s = {raw_rate:.0f} licences/s ({raw_rate / rate:.1f}x); "
                f"raw signing floor {floor:.0f} licences/s ({floor / rate:.1f}x)"
            )
            result(
                label,
                rate,
                "licences/s",
                baseline=raw_rate,
                baseline_unit="licences/s",
                baseline_label="raw executemany of the same rows",
                ratio=raw_rate / rate,
            )
            result(
                f"{label} vs signing",
                rate,
                "licences/s",
                baseline=floor,
                baseline_unit="licences/s",
                baseline_label=f"raw ES256 signing, 2 sigs/licence, {workers} cores",
                ratio=floor / rate,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- c: kiosk memory with a 30-region bundle ----------------------------------------------------


def build_scale_world(
    dest: Path, *, regions: int, entries: int, share: float, variants: tuple[bool, ...] = (False,)
) -> tuple[list[Path], str, int]:
    """The demo world grown to ``regions`` regions (one more authority each), published as bundles whose
    status sections hold lists totalling ``entries`` entries, one bundle per variant (``True``: every
    non-valid entry has a reason + time detail). Returns (bundles, QR payload, total entries)."""
    from elicense.catalog import Catalog
    from elicense.crypto.pki import make_regional_ca
    from elicense.crypto.suites import load_key, make_end_entity_cert, write_key
    from elicense.demo import AGREEMENTS, _key, build_demo
    from elicense.home import AuthorityEntry, Home, RegionEntry, write_pem
    from elicense.identifiers import USCC
    from elicense.services.status import status_sections
    from elicense.services.trust import add_trust_operators, publish
    from elicense.status.section import to_section
    from elicense.status.statuslist import sign_status_list
    from elicense.trust.bundle import STATUS_SECTION

    if not 2 <= regions <= 2 + len(EXTRA_REGIONS):
        raise SystemExit(f"--regions must be 2..{2 + len(EXTRA_REGIONS)}")
    world = build_demo(dest, now=NOW, seed=SEED, images=False, pdf=False)
    sample = world.issued["business-licence-jinan"]
    home = world.home
    pw = home.passphrase()
    root = home.root_certificates()[0]
    root_key = load_key((home.path / "keys/root.key.pem").read_bytes(), pw, root)
    start, years = NOW - dt.timedelta(days=365), dt.timedelta(days=5 * 365)
    new_regions, new_auths = list(home.regions), list(home.authorities)
    business = (sample.licence.id.type_code,)
    for n, code in enumerate(EXTRA_REGIONS[: regions - 2]):
        name = f"测试省{n:02d}"
        ca_key = _key(SEED, f"ca-{code}")
        ca = make_regional_ca(
            ca_key,
            f"{name}电子证照签发CA（压测）",
            province=name,
            issuer_cert=root,
            issuer_key=root_key,
            not_before=start,
            not_after=NOW + years,
        )
        write_pem(home.path / f"pki/ca-{code}.pem", [ca])
        write_key(home.path / f"keys/ca-{code}.key.pem", ca_key, pw)
        new_regions.append(RegionEntry(code, name, f"pki/ca-{code}.pem", f"keys/ca-{code}.key.pem"))
        area = code[:2] + "0100"
        uscc = str(USCC.build("11", area, f"MB{n:06d}"))
        auth_key = _key(SEED, f"auth-{code}")
        cert = make_end_entity_cert(
            auth_key,
            f"{name}市场监督管理局",
            uscc=uscc,
            province=name,
            issuer_cert=ca,
            issuer_key=ca_key,
            not_before=start,
            not_after=NOW + years,
        )
        write_pem(home.path / f"pki/auth-{code}.pem", [cert])
        write_key(home.path / f"keys/auth-{code}.key.pem", auth_key, pw)
        new_auths.append(
            AuthorityEntry(
                f"{name}市场监督管理局", uscc, area, business, f"pki/auth-{code}.pem", f"keys/auth-{code}.key.pem"
            )
        )
    home = Home(home.path, home.roots, tuple(new_regions), tuple(new_auths), demo=True, extra=home.extra)
    home.save()
    home = add_trust_operators(
        home,
        root_key=root_key,
        now=NOW - dt.timedelta(days=1),
        agreements=[(r, i, [Catalog.default().get(t).code for t in ts]) for r, i, ts in AGREEMENTS],
        keys=lambda label: _key(SEED, label),
    )
    # one list per authority, sizes summing to `entries`
    per = list_size(-(-entries // len(home.authorities)))
    seq = int(NOW.timestamp())
    crls = status_sections(home, NOW, sequence=seq).crls
    paths = []
    for details in variants:
        rng = random.Random(2)
        lists = []
        for entry in home.authorities:
            keep = frozenset({sample.licence.status_index}) if entry.code == sample.licence.issuer.code else frozenset()
            lists.append(
                sign_status_list(
                    home.signer(entry),
                    issuer=entry.code,
                    sequence=seq,
                    issued_at=NOW,
                    size=per,
                    entries=not_valid_entries(per, share, rng, keep=keep, details=details),
                )
            )
        section = json.dumps(to_section(lists, crls), separators=(",", ":")).encode()
        _, _, bundle = publish(home, now=NOW, extras={STATUS_SECTION: section})
        path = dest / f"trust-bundle-scale{'-details' if details else ''}.cose"
        path.write_bytes(bundle)
        raw = sum(len(x) for x in lists + list(crls))
        print(
            f"bundle: {regions} regions, {len(home.authorities)} authorities, {len(lists)} status lists x {per:,} "
            f"= {per * len(lists):,} entries ({share:.0%} not valid{', each with reason + time' if details else ''}); "
            f"{len(bundle):,} B (status section {len(section):,} B, of which base64 overhead {len(section) - raw:,} B)"
        )
        paths.append(path)
    return paths, sample.qr_payload, per * len(lists)


_CHILD = r"""
import json, sys, datetime as dt
def rss():
    out = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) / 1024
    return out
mode = sys.argv[1]
if mode == "baseline":
    import importlib
    for name in json.load(open(sys.argv[2])):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    print(json.dumps({**rss(), "modules": len(sys.modules)}))
else:
    bundle, payload, at, modules_out = sys.argv[2:6]
    from elicense.verify import Verifier
    now = dt.datetime.fromisoformat(at)
    v = Verifier.from_bundle(bundle, clock=lambda: now)
    res = v.verify(payload)
    entries = sum(l.size for l in v.status.lists.values())
    json.dump(sorted(m for m in sys.modules if not m.startswith("__")), open(modules_out, "w"))
    print(json.dumps({**rss(), "status": res.status.name, "lists": len(v.status.lists), "entries": entries,
                      "problems": list(v.status.problems), "modules": len(sys.modules)}))
"""


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=False, timeout=600
    )
    if out.returncode != 0:
        raise SystemExit(f"memory child failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def memory_part(regions: int, entries: int, share: float, variants: tuple[bool, ...]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-mem-"))
    try:
        t0 = time.perf_counter()
        bundles, payload, total = build_scale_world(
            tmp / "world", regions=regions, entries=entries, share=share, variants=variants
        )
        print(f"  (world built in {time.perf_counter() - t0:.0f} s)")
        for details, bundle in zip(variants, bundles, strict=True):
            mods = tmp / "modules.json"
            kiosk = _child("kiosk", str(bundle), payload, NOW.isoformat(), str(mods))
            bare = _child("baseline", str(mods))
            assert kiosk["status"] == "VALID", kiosk
            assert kiosk["entries"] == total, kiosk
            assert not kiosk["problems"], kiosk
            peak, cur, base_peak = kiosk["VmHWM"], kiosk["VmRSS"], bare["VmHWM"]
            what = f"{regions} regions + {total / 1e6:.3g}M status entries" + (", details" if details else "")
            print(
                f"kiosk process, bundle {what} (Verifier.from_bundle + 1 QR verify: {kiosk['status']}, "
                f"{kiosk['lists']} lists, {kiosk['entries']:,} entries): RSS {cur:.1f} MB, peak {peak:.1f} MB; "
                f"bare python importing the same {bare['modules']} modules: RSS {bare['VmRSS']:.1f} MB, peak "
                f"{base_peak:.1f} MB (+{peak - base_peak:.1f} MB for the bundle; target < {MEMORY_TARGET_MB} MB)"
            )
            result(
                f"kiosk memory, bundle {what} (peak RSS)",
                peak,
                "MB",
                baseline=base_peak,
                baseline_unit="MB",
                baseline_label="python importing the same modules",
                ratio=peak / base_peak,
                target=f"< {MEMORY_TARGET_MB} MB",
                met=peak < MEMORY_TARGET_MB,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--part", default="status,registry,memory", help="comma-separated: status, registry, memory")
    ap.add_argument("--entries", type=int, default=10_000_000, help="status entries (one list; bundle total)")
    ap.add_argument("--rows", type=int, default=100_000, help="licences issued per registry backend")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--regions", type=int, default=30)
    ap.add_argument("--share", type=float, default=0.01, help="share of status entries not valid")
    ap.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    ap.add_argument("--quick", action="store_true", help="1M entries, 400 rows (for run_all.py --quick)")
    args = ap.parse_args()
    if args.quick:
        args.entries, args.rows = min(args.entries, 1_000_000), min(args.rows, 400)
    parts = {p.strip() for p in args.part.split(",") if p.strip()}
    if parts - {"status", "registry", "memory"}:
        ap.error(f"unknown part(s): {sorted(parts - {'status', 'registry', 'memory'})}")
    if "status" in parts:
        sys.path.insert(0, str(HERE.parent / "tests"))
        import registry_support as rs
        from elicense.home import Home

        tmp = Path(tempfile.mkdtemp(prefix="bench-scale-status-"))
        try:
            status_part(Home.load(rs.demo_home(tmp / "home")), args.entries, args.share, args.quick)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if "registry" in parts:
        registry_part(args.rows, args.workers, args.no_pg)
    if "memory" in parts:
        memory_part(args.regions, args.entries, args.share, (False,) if args.quick else (False, True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
