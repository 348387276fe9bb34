"""The reason-code catalogue: declared once (``elicense.verdict.reasons``), complete on import, published as
``specs/reason-codes.md``, and every reason-code table elsewhere in ``specs/`` agrees with it."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

from elicense.verdict import REASONS, Status

SPECS = Path(__file__).resolve().parents[2] / "specs"
CATALOGUE = SPECS / "reason-codes.md"
HEADER = """# Reason codes

Every reason code a verification result can carry: the public, stable contract of
`elicense verify --json` (`reasons[].code`) and of `VerificationResult.reasons`. Codes are added,
never renamed. The table is declared once, in `src/elicense/verdict/reasons.py`; this file is its
published copy (`tests/verdict/test_reasons.py` holds the two equal, row for row).

| code | status | English | 中文 |
|---|---|---|---|
"""

CARRIERS = (
    "elicense.verify",
    "elicense.status.store",
    "elicense.trust.policy",
    "elicense.seal.ses",
    "elicense.seal.signeddata",
    "elicense.seal.timestamp",
    "elicense.present.verify",
    "elicense.pdf.verify",
    "elicense.ofd.verify",
)


def render() -> str:
    """The catalogue as markdown, in table order."""
    rows = [f"| `{r.code}` | {r.status.value} | {r.en} | {r.zh} |" for r in REASONS.values()]
    return HEADER + "\n".join(rows) + "\n"


def test_specs_catalogue_is_the_table() -> None:
    assert CATALOGUE.read_text(encoding="utf-8") == render(), (
        "specs/reason-codes.md differs from elicense.verdict.reasons: regenerate it with "
        "`python -c 'import tests.test_verdict_reasons as t; print(t.render(), end=\"\")' > specs/reason-codes.md`"
    )


def test_catalogue_complete_on_import_of_the_verdict_alone() -> None:
    """No module registers codes at import time: the verdict module alone knows every code."""
    alone = subprocess.run(
        [sys.executable, "-c", "from elicense.verdict import REASONS; print(' '.join(REASONS))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in CARRIERS:
        importlib.import_module(name)
    assert alone == list(REASONS)
    assert len(alone) == len(set(alone)) > 90


def test_every_reason_a_module_names_is_in_the_table() -> None:
    """Carriers re-export their codes from the table: the same objects, nothing declared beside it."""
    from elicense.verdict.reasons import ReasonCode

    for name in CARRIERS:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, ReasonCode):
                assert REASONS[value.code] is value, f"{name}.{attr}"


_ROW = re.compile(r"^\| `([a-z0-9_]+)`(?: / `([a-z0-9_]+)`)? \| (VALID|INVALID|INDETERMINATE)\b", re.M)


def test_reason_tables_in_specs_agree_with_the_table() -> None:
    """A spec's table of reason codes (``| `code` | INVALID | ...``) names known codes with their status."""
    seen = 0
    for path in sorted(SPECS.glob("*.md")):
        if path == CATALOGUE:
            continue
        for m in _ROW.finditer(path.read_text(encoding="utf-8")):
            for code in filter(None, (m.group(1), m.group(2))):
                seen += 1
                assert code in REASONS, f"{path.name}: unknown reason code {code}"
                assert REASONS[code].status is Status(m.group(3)), f"{path.name}: {code} is {REASONS[code].status}"
    assert seen >= 15
