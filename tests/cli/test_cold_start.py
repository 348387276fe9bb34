"""Cold start (#8): a text payload is verified without loading the heavy stacks or the other commands.

Module-set assertions in a fresh interpreter (no timing): what ``elicense verify X.qr.txt``
imports is what every CLI user waits for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import pytest

from elicense.cli import COMMANDS, cli

HEAVY = ("sqlalchemy", "pyhanko", "PIL", "lxml", "zxingcpp", "segno", "fpdf", "tongsuopy", "signxml", "qrcode")
"""Stacks a text payload must never load (database, PDF, image, XML, QR rendering/decoding, SM2 backend)."""
OTHER_COMMANDS = tuple(
    f"elicense.cli.{module}" for module in sorted({m for m, _ in COMMANDS.values()}) if module != "verify_command"
)
AT = "2026-06-01T08:00:00Z"


def _modules_after(code: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after running ``code`` (which must not print)."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _cli_modules(args: list[str], expected_rc: int) -> set[str]:
    """``sys.modules`` after ``elicense.cli.run(args)`` in a fresh interpreter (stdout a UTF-8 stream, as a terminal's)."""
    return _modules_after(
        "import contextlib, io\n"
        "from elicense.cli import run\n"
        "with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO(), encoding='utf-8')):\n"
        f"    rc = run({args!r})\n"
        f"assert rc == {expected_rc}, rc\n"
    )


def _heavy(modules: set[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_cli_text_verify_loads_no_heavy_stack_and_no_other_command(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.qr.txt"
    path.write_text(world.issued["business-licence-jinan"].qr_payload + "\n")
    modules = _cli_modules(["verify", str(path), "--trust", str(world.trust_file), "--at", AT, "--json"], 0)
    assert "elicense.verify.verifier" in modules  # the verification really ran
    assert _heavy(modules) == []
    assert sorted(set(OTHER_COMMANDS) & modules) == []
    assert "click" not in modules  # a plain verify line is parsed without click (elicense.cli.run)
    # each frozen dataclass costs ~1 ms to define: the licence model and the XML trust-list model stay out
    assert "elicense.model" not in modules and "elicense.trust.lists" not in modules
    assert "elicense.status.lifecycle" not in modules  # the issuer-side status machinery


def test_batch_text_verify_loads_no_heavy_stack(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    batch = tmp_path / "batch.txt"
    batch.write_text(world.issued["business-licence-jinan"].qr_payload + "\nnot a payload\nEL2:AAAA\n")
    # "not a payload" is an error line (exit 3, #20), "EL2:AAAA" INVALID: the worst is 3
    modules = _cli_modules(["verify", "--batch", str(batch), "--trust", str(world.trust_file), "--at", AT], 3)
    assert _heavy(modules) == []
    assert sorted(set(OTHER_COMMANDS) & modules) == []
    assert "click" not in modules


def test_library_text_verify_loads_no_heavy_stack(world) -> None:  # type: ignore[no-untyped-def]
    payload = world.issued["business-licence-jinan"].qr_payload
    code = (
        "import datetime as dt\n"
        "from elicense.verify import Verifier\n"
        "from elicense.verify.inputs import verify_bytes\n"
        f"v = Verifier.from_trust_file({str(world.trust_file)!r})\n"
        "at = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC)\n"
        f"assert v.verify({payload!r}, at=at)\n"
        f"assert verify_bytes(v, {payload.encode()!r}, at=at)[0]\n"
    )
    modules = _modules_after(code)
    assert _heavy(modules) == []
    assert not any(m.startswith("elicense.cli") for m in modules)


def test_help_lists_every_command_and_each_loads_under_its_name() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "elicense.cli", "--help"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    listed = {line.split()[0] for line in out.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)
    import click

    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name


@pytest.mark.parametrize("name", ["verify", "id"])
def test_unknown_command_is_still_a_usage_error(name: str) -> None:
    from elicense.cli import run

    assert run([f"{name}-nope"]) == 3


def _bad_char_reference(text: str, allow_newlines: bool) -> str | None:
    """The per-character loop the catalogue used before its regular expression."""
    for c in text:
        o = ord(c)
        if o < 0x20:
            if allow_newlines and c in "\n\t":
                continue
            return c
        if 0x7F <= o < 0xA0 or 0xD800 <= o <= 0xDFFF or c in "\u2028\u2029\ufeff":
            return c
        if unicodedata.category(c) == "Cf":  # bidi controls, zero-width characters (#16)
            return c
    return None


def test_catalogue_bad_char_regex_equals_the_loop() -> None:
    from elicense.catalog import _bad_char

    code_points = [*range(0x3000), *range(0xD700, 0xE100), *range(0xFE00, 0x10000), 0x10000, 0x1F600, 0x10FFFF]
    for o in code_points:
        c = chr(o)
        for allow in (True, False):
            assert _bad_char(c, allow) == _bad_char_reference(c, allow), (hex(o), allow)
            text = f"营业执照 {c} x\x01"
            assert _bad_char(text, allow) == _bad_char_reference(text, allow), (hex(o), allow)


def test_province_rows_equal_the_whole_tables_provinces() -> None:
    from elicense.identifiers import _area_table, _provinces

    expected = frozenset(code[:2] for code in _area_table() if code.endswith("0000"))
    assert _provinces() == expected and len(expected) == 34
