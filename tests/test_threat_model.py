"""specs/threat-model.md must only point at tests that exist, and cover every attack class and attacker of #7."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "threat-model.md"
NODE = re.compile(r"`(tests/[\w/.-]+\.py)::(\w+)(\[[^\]`]*\])?`")

ATTACK_CLASSES = (
    # issue #7 item 2
    "payload tampering", "algorithm substitution", "algorithm none", "kid collision", "unknown kid",
    "certificate not authorised for type", "certificate not authorised for region", "expired certificate",
    "not-yet-valid certificate", "expired licence", "not-yet-valid licence", "cross-licence QR swap",
    "cross-licence attachment swap", "PDF shadow hide", "PDF shadow replace", "PDF added annotation",
    "PDF added form field", "PDF swapped image", "PDF swapped attachment", "PDF second signature",
    "PDF signature wrapping", "PDF ByteRange tricks", "trust-list signature wrapping", "rollback", "freeze",
    "revoked signing key",
    # items 3-6
    "zlib bomb in the QR", "huge or deeply nested CBOR", "XML entity expansion and external entities",
    "PNG decompression bomb", "Flate bomb in a PDF", "oversized input", "decoder fuzzing", "CLI bad input",
    "crash during a write",
)  # fmt: skip
ATTACKERS = (
    "Forger", "Holder reusing a screenshot", "Malicious PDF author", "Rogue region", "Compromised key",
    "Stale kiosk", "Hostile files to the kiosk endpoint",
)  # fmt: skip


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables as (header, rows) with cells stripped."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    block: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2:
            tables.append((block[0], block[2:]))
        block = []
    return tables


@functools.cache
def _spec_rows() -> list[dict[str, str]]:
    rows = []
    for header, body in _tables(SPEC.read_text(encoding="utf-8")):
        if "Tests" in header and "Attack class" in header:
            rows += [dict(zip(header, r, strict=True)) for r in body]
    return rows


@functools.cache
def _defined_tests(path: str) -> frozenset[str]:
    """Test functions of a module (top level and in Test* classes), by AST: nothing is imported."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names |= {f"{node.name}::{n.name}" for n in node.body if isinstance(n, ast.FunctionDef)}
    return frozenset(names)


def test_spec_has_attack_tables() -> None:
    rows = _spec_rows()
    assert len(rows) >= 40
    ids = [r["ID"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate row ids"


def test_every_row_names_a_defence_and_at_least_one_test() -> None:
    for row in _spec_rows():
        assert row["Defence (module)"], row["ID"]
        assert NODE.search(row["Tests"]), f"{row['ID']} has no test"
        leftover = NODE.sub("", row["Tests"]).replace(",", "").strip()
        assert not leftover, f"{row['ID']}: not a test node id: {leftover!r}"


def test_every_referenced_test_exists() -> None:
    missing = []
    for row in _spec_rows():
        for path, name, _param in NODE.findall(row["Tests"]):
            if not (ROOT / path).is_file() or name not in _defined_tests(path):
                missing.append(f"{row['ID']}: {path}::{name}")
    assert not missing, "threat model points at missing tests:\n" + "\n".join(missing)


@pytest.mark.parametrize("attack_class", ATTACK_CLASSES)
def test_every_attack_class_of_the_issue_is_covered(attack_class: str) -> None:
    rows = [r for r in _spec_rows() if r["Attack class"] == attack_class]
    assert rows, f"attack class {attack_class!r} is not in the threat model"
    assert any(NODE.search(r["Tests"]) for r in rows)


def test_every_attacker_is_described_and_used() -> None:
    attackers_table = next(
        body for header, body in _tables(SPEC.read_text(encoding="utf-8")) if header[:1] == ["Attacker"]
    )
    described = {r[0] for r in attackers_table}
    assert set(ATTACKERS) <= described
    used = {r["Attacker"] for r in _spec_rows()}
    assert set(ATTACKERS) <= used, set(ATTACKERS) - used
    assert used <= described, used - described


def test_the_checker_catches_a_missing_test() -> None:
    """The node-id check is live: a made-up test name is reported."""
    assert "test_bad_input_is_one_line_exit_3_nothing_written" in _defined_tests("tests/cli/test_bad_input.py")
    assert "test_no_such_attack" not in _defined_tests("tests/verify/test_verify_attacks.py")
    assert NODE.findall("`tests/x.py::test_a[p1]`, `tests/y.py::test_b`") == [
        ("tests/x.py", "test_a", "[p1]"),
        ("tests/y.py", "test_b", ""),
    ]


def test_every_test_named_in_the_specs_and_readme_exists() -> None:
    """Every ``tests/…py::test_…`` that a spec or the README names is a test that exists (they move when the
    tests are reorganised; a stale name sends a reader to nothing)."""
    missing = []
    for doc in [*sorted((ROOT / "specs").glob("*.md")), ROOT / "README.md"]:
        for path, name, _param in NODE.findall(doc.read_text(encoding="utf-8")):
            if not (ROOT / path).is_file() or name not in _defined_tests(path):
                missing.append(f"{doc.name}: {path}::{name}")
    assert not missing, "named tests that do not exist:\n" + "\n".join(missing)
