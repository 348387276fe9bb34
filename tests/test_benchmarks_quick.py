"""benchmarks/run_all.py: its parsers and table on real benchmark output, its runner on real subprocesses,
and (slow) the whole ``run_all.py --quick`` smoke run plus bench_scale's PostgreSQL path.

No timing thresholds: the tests check that every figure is found, has a baseline and a ratio, and that a
target's met/not-met follows from the measured ratio — never what the figures are.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", BENCH / "run_all.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


ra = _load()

# Excerpts of real outputs (run_all.py --quick, this machine).
QR = (  # bench_qr.py speaks the RESULT protocol (run_all.py reads nothing else from it)
    'RESULT {"figure": "QR verify, warm, in process (trust + status included)", "value": 150.6, "unit": "µs", '
    '"baseline": 80.1, "baseline_unit": "µs", "baseline_label": "raw P-256 verify", "ratio": 1.880, '
    '"target": "≤ 1.3×", "met": false}\n'
    'RESULT {"figure": "CLI cold start: elicense verify X.qr.txt", "value": 253.3, "unit": "ms", "baseline": 66.7, '
    '"baseline_unit": "ms", "baseline_label": "python -c \'import cryptography.x509\'", "ratio": 3.798, '
    '"target": "≤ 2×", "met": false}\n'
    'RESULT {"figure": "heavy modules on the text verify path", "value": 0.0, "unit": "modules", "baseline": null, '
    '"baseline_unit": "", "baseline_label": "none", "ratio": null, "target": "none", "met": true}\n'
)
PDF = """bare pyHanko B-B sign           16.3 ms
bare pyHanko validate           12.8 ms
issue+render+sign licence       29.7 ms  =   1.8x bare sign (target <= 2x)
  of which render               10.1 ms
verify licence PDF              16.8 ms  =   1.3x bare validate (target <= 1.3x)
"""
STATUS = """QR verify with status vs without status (same verifier trust, same run, median of 7 × 2000):  221.3 µs vs  214.3 µs = ratio 1.033 (+ 3.3 %, target ≤ 5 %); the two status checks alone  1.29 µs =  0.6 % of a verification
CRL    20,000 entries:     500,281 B; build with revoked_certificates=       90 ms
    our load (verify signature + index, once per bundle load): full index      185 ms; 1 trusted serial   12.9 ms; 100 trusted serials (one pass)     34 ms; then a dict lookup per licence
    pyhanko-certvalidator chain validation with this CRL:      356 ms
"""
REGISTRY = """sqlite qr workers=1                   200 rows     0.24 s     836.7 licences/s  (sign floor 16055/s per core: 19.2x)
postgresql qr workers=2                   200 rows     0.23 s     855.4 licences/s  (sign floor 16055/s per core: 18.8x)
"""
SM2 = """ECDSA P-256 verify (cryptography)                          82.0      12192            1.00
SM2 sign (elicense / tongsuopy)                           344.9       2899            4.21
SM2 verify (elicense / tongsuopy)                         334.8       2987            4.08
SM2 QR payload verify (full Verifier)                     404.3       2473            4.93
"""
PRESENT = """raw ECDSA P-256 verify                             80                 1.00
EP1 presentation verify (2 signatures)            397                 4.99
make presentation (holder)                        185                 2.32
"""
CAMERA = """ALL                 86%      25.4         91%         22.4
"""
SCALE = (
    'RESULT {"figure": "kiosk memory (peak RSS)", "value": 41.4, "unit": "MB", "baseline": 33.2, '
    '"baseline_unit": "MB", "baseline_label": "python importing the same modules", "ratio": 1.247, '
    '"target": "< 200 MB", "met": true}\n'
    'RESULT {"figure": "registry PostgreSQL", "value": NaN, "unit": "licences/s", "baseline": null, '
    '"baseline_label": "not measured: no server", "ratio": null, "target": "", "met": null}\n'
)


def _by(name: str) -> object:
    return next(b for b in ra.BENCHES if b.name == name)


@pytest.mark.parametrize(
    ("name", "text", "count"),
    [("qr", QR, 3), ("pdf", PDF, 2), ("status", STATUS, 2), ("registry", REGISTRY, 2), ("sm2", SM2, 3),
     ("present", PRESENT, 2), ("camera", CAMERA, 2), ("scale", SCALE, 2)],
)  # fmt: skip
def test_parsers_find_every_figure(name: str, text: str, count: int) -> None:
    rows = ra.rows_of(_by(name), text)
    assert len(rows) == count, rows
    for row in rows:
        assert row.bench == name
        assert row.figure
        assert row.value
        if row.target and row.ratio is not None:
            assert row.met is not None


def test_targets_follow_the_measured_ratio() -> None:
    qr = {r.figure: r for r in ra.rows_of(_by("qr"), QR)}
    verify = qr["QR verify, warm, in process (trust + status included)"]
    assert verify.ratio == pytest.approx(1.880)
    assert verify.met is False  # as the script judged it: 1.88× > 1.3×
    assert qr["CLI cold start: elicense verify X.qr.txt"].met is False
    assert qr["heavy modules on the text verify path"].met is True
    pdf = ra.parse_pdf(PDF)
    assert pdf[0].ratio == pytest.approx(29.7 / 16.3)
    assert pdf[0].met is True
    assert pdf[1].met is False  # 16.8 / 12.8 = 1.31 > 1.3
    status = ra.parse_status(STATUS)[0]
    assert status.ratio == pytest.approx(221.3 / 214.3)
    assert status.met is True
    reg = ra.parse_registry(REGISTRY)
    assert reg[0].ratio == pytest.approx(16055 / 836.7)
    assert "postgresql" in reg[1].figure
    scale = ra.rows_of(_by("scale"), SCALE)
    assert scale[0].met is True
    assert scale[1].value == "n/a"


def test_table_plain_and_markdown_round_trip() -> None:
    rows = [r for name, text in (("qr", QR), ("pdf", PDF), ("scale", SCALE)) for r in ra.rows_of(_by(name), text)]
    plain = ra.table(rows)
    cells = ra.parse_table(plain)
    assert len(cells) == len(rows)
    assert cells[0][0] == "QR verify, warm, in process (trust + status included)"
    assert cells[0][1] == "151 µs"
    assert "1.88×" in cells[0]
    assert cells[0][-1] == "NOT met"
    md = ra.table(rows, markdown=True).splitlines()
    assert md[0].startswith("| figure | value |")
    assert len(md) == len(rows) + 2
    assert all(line.count("|") == 6 for line in md)
    with pytest.raises(ValueError, match="not a run_all table"):
        ra.parse_table("something else\n")


def test_runner_reports_figures_failures_and_missing_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real runner, real subprocesses: a benchmark with figures, one that crashes, one with no figure."""
    bench_dir = tmp_path / "b"
    bench_dir.mkdir()
    (bench_dir / "good.py").write_text(
        "import json, sys\n"
        "quick = '--quick' in sys.argv\n"
        "print('RESULT ' + json.dumps({'figure': 'thing', 'value': 2.0 if quick else 3.0, 'unit': 'ms', "
        "'baseline': 1.0, 'baseline_unit': 'ms', 'baseline_label': 'raw', 'ratio': 2.0, 'target': '≤ 2×', "
        "'met': True}))\n"
    )
    (bench_dir / "crash.py").write_text("raise SystemExit('boom')\n")
    (bench_dir / "silent.py").write_text("print('hello')\n")
    monkeypatch.setattr(ra, "HERE", bench_dir)
    monkeypatch.setattr(ra, "BENCHES", (
        ra.Bench("good", "good.py", (), ("--quick",)),
        ra.Bench("crash", "crash.py", (), ()),
        ra.Bench("silent", "silent.py", (), ()),
        ra.Bench("absent", "absent.py", (), ()),
    ))  # fmt: skip
    out_json = tmp_path / "rows.json"
    code = ra.main(["--quick", "--log-dir", str(tmp_path / "logs"), "--json", str(out_json)])
    assert code == 1  # crash and silent fail the run
    rows = json.loads(out_json.read_text())
    assert [(r["figure"], r["value"]) for r in rows] == [("thing", "2 ms")]
    assert (tmp_path / "logs" / "good.log").read_text().startswith("RESULT ")
    assert "boom" in (tmp_path / "logs" / "crash.log").read_text()
    assert ra.main(["--only", "good,absent", "--log-dir", str(tmp_path / "logs2")]) == 0  # absent: skipped
    capsys.readouterr()
    assert ra.main(["--from-json", str(out_json), "--markdown"]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("| thing | 2 ms | 1 ms raw | 2.00× | ≤ 2× met |")
    with pytest.raises(SystemExit):
        ra.main(["--only", "nosuch"])


@pytest.mark.slow
def test_run_all_quick_end_to_end(tmp_path: Path) -> None:
    """Every benchmark runs small (≈ 45 s) and yields its figures, each with a baseline from the same run."""
    out_json = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--json", str(out_json), "--log-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads(out_json.read_text())
    figures = " | ".join(r["figure"] for r in rows)
    for needle in ("bulk verify", "QR verify, warm", "CLI cold start", "PDF issuance", "PDF verification", "status lists + CRLs",
                   "status list 1M entries: load", "registry issuance", "kiosk memory", "bulk issuance sqlite",
                   "SM2 verify", "EP1 presentation verify", "camera frames read"):  # fmt: skip
        assert needle in figures, needle
    for r in rows:
        if r["ratio"] is not None:
            assert r["baseline"], r
        if r["target"] and r["ratio"] is not None:
            assert r["met"] is not None, r
    memory = next(r for r in rows if r["figure"].startswith("kiosk memory"))
    assert memory["target"] == "< 200 MB"
    table = proc.stdout.split("\n\n")[0]
    assert len(ra.parse_table(table)) == len(rows)


@pytest.mark.slow
def test_bench_scale_registry_on_postgresql() -> None:
    """bench_scale's registry part on a throwaway PostgreSQL server (or a clear 'not measured')."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_scale.py"), "--part", "registry", "--rows", "60"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = ra.rows_of(_by("scale"), proc.stdout)
    pg = [r for r in rows if "PostgreSQL" in r.figure]
    assert pg, proc.stdout
    if pg[0].value == "n/a":
        assert "not measured" in pg[0].baseline
    else:
        assert len(pg) == 2
        assert all(r.ratio and r.ratio > 0 for r in pg)
