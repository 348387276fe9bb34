"""Run every benchmark (each in its own subprocess) and print one table: figure, value, baseline, ratio, target.

    .venv/bin/python benchmarks/run_all.py            # full run (~21 min on 2 cores; keep the machine quiet)
    .venv/bin/python benchmarks/run_all.py --quick    # everything small (≲ 60 s): a smoke run, not figures
    .venv/bin/python benchmarks/run_all.py --only qr,scale --markdown --log-dir /tmp/bench-logs --json rows.json
    .venv/bin/python benchmarks/run_all.py --from-json rows.json --markdown   # re-print a saved run

Ratio is always "× the cost of the baseline" (time ratio, or the inverse rate ratio), the baseline being a raw
primitive or peer library measured in the same run by the same script. Targets are those of issue #8 (and
#5's status overhead); "met" is judged on the measured ratio or value. Benchmarks that print ``RESULT {json}``
lines (``bench_scale.py``) are read as such; the others' human-readable lines are parsed by the small
parsers below (a benchmark whose output yields no figure is reported as a failure, exit status 1).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    bench: str
    """Benchmark name (``qr``, ``pdf``, ...)."""
    figure: str
    """What was measured."""
    value: str
    """Measured value with its unit."""
    baseline: str = ""
    """Baseline value with its unit and what it is."""
    ratio: float | None = None
    """Value's cost as a multiple of the baseline's."""
    target: str = ""
    """Target from the issue, if any."""
    met: bool | None = None
    """Whether the target is met (``None``: no target)."""


@dataclass(frozen=True)
class Bench:
    """A benchmark script, its arguments (full and quick) and the parser of its output."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    parse: Callable[[str], list[Row]] | None = None
    """Parser of a script's printed table; ``None``: the script speaks the ``RESULT`` protocol only."""
    timeout: float = 3600


@dataclass
class Outcome:
    """What running one benchmark gave."""

    bench: Bench
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    skipped: str = ""


# -- parsing helpers ---------------------------------------------------------------------------

_NUM = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def num(text: str) -> float:
    """``'1,234.5'`` → ``1234.5``."""
    return float(text.replace(",", ""))


def fmt(value: float, unit: str) -> str:
    """A value with its unit, to 3-4 significant figures."""
    if math.isnan(value):
        return "n/a"
    if value == int(value) and abs(value) < 1000:
        text = f"{int(value)}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    sep = "" if unit in ("%", "×") else " "
    return f"{text}{sep}{unit}" if unit else text


def at_most(ratio: float | None, limit: float) -> bool | None:
    return None if ratio is None else ratio <= limit


def first(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(pattern, text, re.MULTILINE)


def result_rows(bench: str, text: str) -> list[Row]:
    """``RESULT {json}`` lines (the common protocol; see ``bench_scale.result``)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        d = json.loads(line[len("RESULT ") :])
        base = ""
        if d.get("baseline") is not None:
            base = f"{fmt(float(d['baseline']), d.get('baseline_unit', ''))} {d.get('baseline_label', '')}".strip()
        elif d.get("baseline_label"):
            base = str(d["baseline_label"])
        ratio = d.get("ratio")
        rows.append(
            Row(
                bench,
                d["figure"],
                fmt(float(d["value"]), d["unit"]),
                base,
                None if ratio is None else float(ratio),
                d.get("target") or "",
                d.get("met"),
            )
        )
    return rows


def rows_of(bench: Bench, text: str) -> list[Row]:
    """A script that speaks the RESULT protocol is read as such; the others through their parser."""
    return result_rows(bench.name, text) or (bench.parse(text) if bench.parse is not None else [])


# -- per-benchmark parsers (scripts that print a table, not RESULT lines) ------------------------


def parse_pdf(text: str) -> list[Row]:
    sign = first(rf"^bare pyHanko B-B sign\s+{_NUM}\s*ms", text)
    val = first(rf"^bare pyHanko validate\s+{_NUM}\s*ms", text)
    issue = first(rf"^issue\+render\+sign licence\s+{_NUM}\s*ms", text)
    verify = first(rf"^verify licence PDF\s+{_NUM}\s*ms", text)
    rows = []
    if sign and issue:
        v, b = num(issue[1]), num(sign[1])
        rows.append(
            Row(
                "pdf",
                "PDF issuance: render + QR + seal + PAdES sign",
                fmt(v, "ms"),
                f"{fmt(b, 'ms')} bare pyHanko B-B sign",
                v / b,
                "≤ 2×",
                at_most(v / b, 2.0),
            )
        )
    if val and verify:
        v, b = num(verify[1]), num(val[1])
        rows.append(
            Row(
                "pdf",
                "PDF verification (status + QR cross-check)",
                fmt(v, "ms"),
                f"{fmt(b, 'ms')} bare pyHanko validate",
                v / b,
                "≤ 1.3×",
                at_most(v / b, 1.3),
            )
        )
    return rows


def parse_status(text: str) -> list[Row]:
    rows = []
    m = first(rf"^QR verify with status vs without status[^\n]*?{_NUM}\s*µs vs\s+{_NUM}\s*µs", text)
    if m:
        v, b = num(m[1]), num(m[2])
        rows.append(
            Row(
                "status",
                "QR verify with status lists + CRLs (#5)",
                fmt(v, "µs"),
                f"{fmt(b, 'µs')} same verify without status",
                v / b,
                "≤ 1.05×",
                at_most(v / b, 1.05),
            )
        )
    m = first(rf"^\s*our load[^\n]*?1 trusted serial\s+{_NUM}\s*ms", text)
    crl = first(rf"^CRL\s+{_NUM} entries", text)
    pyh = first(rf"^\s*pyhanko-certvalidator chain validation with this CRL:\s+{_NUM}\s*ms", text)
    if m and pyh and crl:
        v, b = num(m[1]), num(pyh[1])
        rows.append(
            Row(
                "status",
                f"CRL of {crl[1]} entries: verify + index (once per bundle load)",
                fmt(v, "ms"),
                f"{fmt(b, 'ms')} pyhanko-certvalidator with that CRL",
                v / b,
            )
        )
    return rows


def parse_registry(text: str) -> list[Row]:
    rows = []
    pat = rf"^(\w+) (qr|pdf) workers=(\d+)\s+{_NUM} rows\s+{_NUM} s\s+{_NUM} licences/s\s+\(sign floor {_NUM}/s"
    for m in re.finditer(pat, text, re.MULTILINE):
        rate, floor = num(m[6]), num(m[7])
        what = "QR payload" if m[2] == "qr" else "QR + PDF"
        rows.append(
            Row(
                "registry",
                f"bulk issuance {m[1]}, {what}, {m[4]} rows, {m[3]} worker(s)",
                fmt(rate, "licences/s"),
                f"{fmt(floor, 'sign/s')} raw signing floor per core",
                floor / rate,
            )
        )
    for m in re.finditer(r"^postgresql[^\n]*skipped[^\n]*$", text, re.MULTILINE):
        rows.append(Row("registry", "bulk issuance postgresql", "not measured", m[0][:80]))
    return rows


def parse_sm2(text: str) -> list[Row]:
    rows = []
    base = first(rf"^ECDSA P-256 verify \(cryptography\)\s+{_NUM}", text)
    for label in (
        "SM2 sign (elicense / tongsuopy)",
        "SM2 verify (elicense / tongsuopy)",
        "SM2 QR payload verify (full Verifier)",
    ):
        m = first(rf"^{re.escape(label)}\s+{_NUM}\s+{_NUM}\s+{_NUM}", text)
        if m and base:
            rows.append(
                Row(
                    "sm2",
                    label,
                    fmt(num(m[1]), "µs"),
                    f"{fmt(num(base[1]), 'µs')} raw P-256 verify",
                    num(m[1]) / num(base[1]),
                )
            )
    return rows


def parse_present(text: str) -> list[Row]:
    rows = []
    base = first(rf"^raw ECDSA P-256 verify\s+{_NUM}", text)
    for label in ("EP1 presentation verify (2 signatures)", "make presentation (holder)"):
        m = first(rf"^{re.escape(label)}\s+{_NUM}\s+{_NUM}", text)
        if m and base:
            rows.append(
                Row(
                    "present",
                    label,
                    fmt(num(m[1]), "µs"),
                    f"{fmt(num(base[1]), 'µs')} raw P-256 verify",
                    num(m[1]) / num(base[1]),
                )
            )
    return rows


def parse_camera(text: str) -> list[Row]:
    m = first(rf"^ALL\s+{_NUM}%\s+{_NUM}\s+{_NUM}%\s+{_NUM}", text)
    if not m:
        return []
    return [
        Row(
            "camera",
            "camera frames read (all degradation classes)",
            fmt(num(m[3]), "%"),
            f"{fmt(num(m[1]), '%')} plain zxingcpp.read_barcodes",
        ),
        Row(
            "camera",
            "camera reader time per frame",
            fmt(num(m[4]), "ms"),
            f"{fmt(num(m[2]), 'ms')} plain zxingcpp.read_barcodes",
            num(m[4]) / num(m[2]),
        ),
    ]


BENCHES: tuple[Bench, ...] = (
    Bench("qr", "bench_qr.py", (), ("--quick",)),
    Bench("batch", "bench_batch.py", (), ("--quick",)),
    Bench("pdf", "bench_pdf.py", ("20",), ("2",), parse_pdf),
    Bench("status", "bench_status.py", (), ("--quick", "--crl-entries", "20000"), parse_status),
    Bench("scale", "bench_scale.py", (), ("--quick", "--no-pg", "--rows", "200")),
    Bench(
        "registry",
        "bench_registry.py",
        ("--rows", "10000", "--pdf-rows", "50"),
        ("--rows", "200", "--pdf-rows", "0", "--no-pg"),
        parse_registry,
    ),
    Bench("sm2", "bench_sm2.py", (), ("--quick",), parse_sm2),
    Bench("present", "bench_present.py", (), ("--quick",), parse_present),
    Bench("camera", "bench_camera.py", (), ("--per-class", "2"), parse_camera),
    Bench("ofd", "bench_ofd.py", (), ("--quick",)),
)


# -- running and printing ----------------------------------------------------------------------


def run_one(bench: Bench, *, quick: bool, log_dir: Path | None) -> Outcome:
    out = Outcome(bench)
    script = HERE / bench.script
    if not script.exists():  # e.g. a benchmark another change has not landed yet
        out.skipped = f"{bench.script} not present"
        return out
    cmd = [sys.executable, str(script), *(bench.quick if quick else bench.full)]
    print(f"[run_all] {' '.join([Path(cmd[0]).name, *cmd[1:]])}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=bench.timeout, check=False, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        out.seconds = time.perf_counter() - t0
        out.error = f"timed out after {bench.timeout:.0f} s"
        return out
    out.seconds = time.perf_counter() - t0
    if log_dir is not None:
        err = "\n--- stderr\n" + proc.stderr if proc.stderr else ""
        (log_dir / f"{bench.name}.log").write_text(proc.stdout + err)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        out.error = f"exit {proc.returncode}: {tail[0][:160]}"
    try:
        out.rows = rows_of(bench, proc.stdout)
    except (ValueError, KeyError) as exc:
        out.error = out.error or f"unparsable output: {exc}"
    if not out.rows and not out.error:
        out.error = "no figure found in the output"
    return out


def _ratio(r: Row) -> str:
    return "" if r.ratio is None or math.isnan(r.ratio) else f"{r.ratio:.2f}×"


def _met(r: Row) -> str:
    if not r.target:
        return ""
    return {True: "met", False: "NOT met", None: "?"}[r.met]


def table(rows: Sequence[Row], *, markdown: bool = False) -> str:
    head = ("figure", "value", "baseline (same run)", "ratio", "target", "")
    body = [(r.figure, r.value, r.baseline, _ratio(r), r.target, _met(r)) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head[:-1]) + " |", "|" + "---|" * (len(head) - 1)]
        lines += ["| " + " | ".join([*c[:4], f"{c[4]} {c[5]}".strip()]) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    fmt_row = "  ".join(f"{{:<{w}}}" if i in (0, 2, 4, 5) else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt_row.format(*x).rstrip() for x in [head, *body])


def parse_table(text: str) -> list[tuple[str, ...]]:
    """The cells of a table printed by :func:`table` (plain form; for tests and tooling)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("figure"):
        raise ValueError("not a run_all table")
    return [tuple(c.strip() for c in re.split(r"\s{2,}", ln.strip())) for ln in lines[1:]]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run all benchmarks and print one table.")
    ap.add_argument("--quick", action="store_true", help="everything small (a smoke run in about a minute)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(b.name for b in BENCHES)}")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    ap.add_argument("--log-dir", type=Path, default=None, help="keep each benchmark's full output here")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--from-json", type=Path, default=None, help="print the table of rows saved by --json; run nothing")
    args = ap.parse_args(argv)
    if args.from_json is not None:
        saved = [Row(**r) for r in json.loads(args.from_json.read_text())]
        print(table(saved, markdown=args.markdown))
        return 0
    names = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = names - {b.name for b in BENCHES}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="elicense-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    outcomes = [run_one(b, quick=args.quick, log_dir=log_dir) for b in BENCHES if not names or b.name in names]
    rows = [r for o in outcomes for r in o.rows]
    print(table(rows, markdown=args.markdown))
    print()
    for o in outcomes:
        status = f"FAILED ({o.error})" if o.error else f"skipped ({o.skipped})" if o.skipped else "ok"
        print(f"{o.bench.name:<9} {o.seconds:6.1f} s  {status}")
    print(f"{'mode':<9} {'quick (smoke run: figures are not meaningful)' if args.quick else 'full'}; logs in {log_dir}")
    if args.json is not None:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], ensure_ascii=False, indent=1))
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
