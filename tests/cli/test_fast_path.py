"""The click-free ``verify`` path (cold start, #8) behaves exactly as the click command.

``elicense.cli.run`` parses a plain ``verify`` line itself and hands everything else to
click. These tests hold the two paths to the same exit code, stdout and stderr, and the
fast parser's option table to the click command's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from elicense.cli import run
from elicense.cli import verify as cli_verify
from elicense.cli.verify import VerifyOptions, fast_options
from elicense.cli.verify_command import verify_cmd

AT = "2026-06-01T08:00:00Z"


def test_click_command_is_built_from_the_option_table() -> None:
    """One declaration: every row of ``OPTIONS`` is a click option with the same flags, and nothing else."""
    options = [p for p in verify_cmd.params if isinstance(p, click.Option)]
    assert [(tuple(p.opts + p.secondary_opts), p.name) for p in options] == [
        (row.flags, row.dest) for row in cli_verify.OPTIONS
    ]
    fields = {f.name for f in dataclasses.fields(VerifyOptions)}
    for param, row in zip(options, cli_verify.OPTIONS, strict=True):
        assert row.dest in fields
        assert (param.is_flag, param.multiple) == (row.flag, row.multiple)
        assert param.help == row.help
    arguments = [p for p in verify_cmd.params if isinstance(p, click.Argument)]
    assert [(a.name, a.nargs) for a in arguments] == [("inputs", -1)]
    assert fields == {"inputs"} | {row.dest for row in cli_verify.OPTIONS}


PARSED = [
    ["a", "--json", "--trust=t", "-", "--allow-alg", "SM2", "--algorithms=ES256", "--", "--x"],
    ["--lang", "en", "--lang", "zh", "--workers", "07"],
    ["x", "--at", "2026-01-01", "--batch", "-", "--accept-region=370000,320000", "--region", "370000"],
    ["--state", "d", "--workers=64", "--lang=en", "y", "z"],
    [],
]


@pytest.mark.parametrize("args", PARSED)
def test_fast_parser_reads_what_click_reads(args: list[str]) -> None:
    """The same command line gives the same :class:`VerifyOptions` on both paths."""
    ctx = verify_cmd.make_context("verify", list(args))
    assert fast_options(args) == VerifyOptions(**ctx.params)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["--json=1"],
        ["--lang", "fr"],
        ["--lang=ZH"],
        ["--workers", "0"],
        ["--workers", "65"],
        ["--workers", "x"],
        ["--workers", "+2"],
        ["--workers", "٣"],
        ["--trust"],
        ["--trust", "--json"],
        ["--bogus"],
        ["-x"],
        ["--tru", "f"],
        ["x", "--at"],
    ],
)
def test_lines_left_to_click(args: list[str]) -> None:
    assert fast_options(args) is None


def test_fast_options_values() -> None:
    assert fast_options(["a", "--json", "--trust=t", "-", "--allow-alg", "SM2", "--algorithms=ES256", "--", "--x"]) == (
        VerifyOptions(inputs=("a", "-", "--x"), as_json=True, trust="t", allow_alg=("SM2", "ES256"))
    )
    assert fast_options(["--lang", "en", "--lang", "zh", "--workers", "07"]) == VerifyOptions(lang="zh", workers=7)


def _both(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """``run(args)`` on the fast path and on click's: (exit code, stdout, stderr) of each."""
    taken: list[bool] = []
    real = cli_verify.fast_options

    def spy(rest: list[str]) -> VerifyOptions | None:
        found = real(rest)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(cli_verify, "fast_options", spy)
    fast = (run(args), *capsys.readouterr())
    assert taken == [True], f"the fast path did not take {args}"
    monkeypatch.setattr(cli_verify, "fast_options", lambda rest: None)
    slow = (run(args), *capsys.readouterr())
    return fast, slow


@pytest.fixture(scope="module")
def files(world, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fast")
    out = {"trust": str(world.trust_file)}
    for name in ("business-licence-jinan", "business-licence-revoked", "food-business-licence-expired"):
        path = tmp / f"{name}.qr.txt"
        path.write_text(world.issued[name].qr_payload + "\n")
        out[name] = str(path)
    batch = tmp / "batch.txt"
    batch.write_text(
        "\n".join(
            [
                world.issued["business-licence-jinan"].qr_payload,
                "garbage",
                "",
                world.issued["business-licence-revoked"].qr_payload,
            ]
        )
        + "\n"
    )
    out["batch"] = str(batch)
    out["pasted"] = world.issued["business-licence-jinan"].qr_payload
    out["dir"] = str(tmp)
    return out


CASES = [
    ["{jinan}", "--trust", "{trust}", "--at", AT],
    ["{jinan}", "--trust", "{trust}", "--at", AT, "--lang", "zh"],
    ["--json", "{jinan}", "{revoked}", "{expired}", "--trust={trust}", f"--at={AT}"],
    ["{revoked}", "--trust", "{trust}", "--at", AT, "--lang=zh", "--json"],
    ["--trust", "{trust}", "--at", AT, "--", "{pasted}"],
    ["{jinan}", "{dir}/missing.qr.txt", "{dir}", "--trust", "{trust}", "--at", AT, "--json", "--lang", "zh"],
    ["--batch", "{batch}", "--trust", "{trust}", "--at", AT],
    ["--batch", "{batch}", "--trust", "{trust}", "--at", AT, "--workers", "2", "--lang", "zh"],
    ["{jinan}", "--trust", "{trust}", "--at", "yesterday"],
    ["{jinan}", "--trust", "{trust}", "--at", "yesterday", "--lang", "zh"],
    ["{jinan}", "--trust", "{dir}/no-such-bundle.cose", "--at", AT],
    ["{jinan}", "--trust", "{trust}", "--allow-alg", "SM2", "--at", AT],
    ["{jinan}", "--trust", "{trust}", "--allow-alg", "NOPE"],
    ["{jinan}", "--trust", "{trust}", "--accept-region", "320000", "--at", AT],
    ["{jinan}", "--trust", "{trust}", "--region", "370000", "--at", AT],
    ["{jinan}", "--trust", "{trust}", "--workers", "2"],
    ["{jinan}", "--trust", "{trust}", "--state", "{dir}/state", "--at", AT, "--json"],
    ["-", "--trust", "{trust}", "--at", AT],
    ["{jinan}", "--batch", "{batch}", "--trust", "{trust}"],
    ["--trust", "{trust}"],
    ["{jinan}"],
]


@pytest.mark.parametrize("case", CASES, ids=[" ".join(c)[:60] for c in CASES])
def test_fast_path_output_is_clicks(
    case: list[str], files: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELICENSE_TRUST", raising=False)
    monkeypatch.delenv("ELICENSE_ALGORITHMS", raising=False)
    short = {k.replace("food-business-licence-", "").replace("business-licence-", ""): v for k, v in files.items()}
    args = ["verify", *(a.format(**short) for a in case)]
    fast, slow = _both(args, capsys, monkeypatch)
    assert fast == slow
    assert fast[1] or fast[2]  # each case says something


def _python(code: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("ELICENSE_TRUST", "PYTHONIOENCODING")}
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=120, check=False, **kwargs)


def test_plain_verify_never_imports_click(files: dict[str, str]) -> None:
    code = (
        "import sys\nfrom elicense.cli import run\n"
        f"rc = run(['verify', {files['business-licence-jinan']!r}, '--trust', {files['trust']!r}, '--at', {AT!r}])\n"
        "assert rc == 0, rc\nprint('CLICK' if 'click' in sys.modules else 'NO-CLICK')\n"
    )
    out = _python(code, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "NO-CLICK"


@pytest.mark.parametrize("path", ["fast", "click"])
def test_broken_pipe_is_an_error_exit_not_invalid(path: str, files: dict[str, str], tmp_path: Path) -> None:
    """``elicense verify --batch ... | head -1``: exit 3 and no traceback (click alone would exit 1 = INVALID)."""
    big = tmp_path / "big.txt"
    big.write_text((files["pasted"] + "\n") * 3000)
    force = "import elicense.cli.verify as v; v.fast_options = lambda rest: None\n" if path == "click" else ""
    code = (
        f"{force}from elicense.cli import main\n"
        f"main(['verify', '--batch', {str(big)!r}, '--trust', {files['trust']!r}, '--at', {AT!r}])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("ELICENSE_TRUST", "PYTHONIOENCODING", "PYTHONUNBUFFERED")}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 3, err
    assert json.loads(first)["status"] == "VALID"
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("workers", [None, 1, 2])
def test_main_flushes_all_output_before_a_fast_exit(workers: int | None, files: dict[str, str], tmp_path: Path) -> None:
    """``main`` skips the interpreter teardown after a click-free verify: nothing may be lost to it."""
    out = tmp_path / "out.jsonl"
    if workers:
        args = ["--batch", files["batch"], "--workers", str(workers)]
    else:
        args = [files["business-licence-jinan"], files["business-licence-revoked"], "--json"]
    drop = ("ELICENSE_TRUST", "PYTHONIOENCODING", "PYTHONUNBUFFERED")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    with out.open("wb") as fh:  # a file: block-buffered, unlike a terminal
        proc = subprocess.run(
            [sys.executable, "-m", "elicense.cli", "verify", *args, "--trust", files["trust"], "--at", AT],
            stdout=fh,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
            check=False,
        )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # the batch's "garbage" line is no licence at all: an error line (#20), and the worst exit code is 3
    assert [x["status"] for x in lines] == (["VALID", "ERROR", "INVALID"] if workers else ["VALID", "INVALID"])
    assert proc.returncode == (3 if workers else 1) and proc.stderr == b""


def test_garbage_collection_resumes_after_the_trust_load(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert run(["verify", files["business-licence-jinan"], "--trust", files["trust"], "--at", AT]) == 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen  # only main() (the process ends) freezes what was loaded
    assert run(["verify", files["business-licence-jinan"], "--trust", files["dir"] + "/nope.cose"]) == 3  # load fails
    assert gc.isenabled()
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "zh"),
    [
        (["verify", "--lang", "zh", "--bogus"], "没有选项 --bogus"),
        (["verify", "--lang", "zh", "--trus", "x"], "是否想用 --at、--trust"),
        (["verify", "--lang", "zh", "x", "--workers", "0"], "参数 '--workers' 的值无效"),
        (["verify", "--lang", "zh", "--trust"], "选项 --trust 需要一个值"),
        (["verify", "--lang", "zh", "--json=1", "x"], "选项 --json 不接受值"),
        (["nosuchcommand", "--lang", "zh"], "没有命令 'nosuchcommand'"),
        (["id", "check", "--lang", "zh"], "缺少参数 'VALUE'"),
    ],
)
def test_click_usage_errors_speak_chinese_with_lang_zh(
    args: list[str], zh: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """click's own messages (left to click by the fast path) follow ``--lang zh`` / a Chinese locale too."""
    for var in ("ELICENSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert run(args) == 3
    err = capsys.readouterr().err
    assert err.startswith("elicense: 用法错误：") and zh in err and err.count("\n") == 1, err
    plain = [a for a in args if a not in ("--lang", "zh")]
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert run(plain) == 3
    assert zh in capsys.readouterr().err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert run(plain) == 3
    assert capsys.readouterr().err.startswith("elicense: usage error: ")


def test_only_the_run_that_took_the_fast_path_may_skip_teardown(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from elicense.cli.common import closed_everything

    assert run(["verify", files["business-licence-jinan"], "--trust", files["trust"], "--at", AT]) == 0
    assert closed_everything()
    assert run(["id", "check", "91370102MA3C8K2L65"]) == 0  # a click command after it
    assert not closed_everything()
    capsys.readouterr()


def test_cli_payload_prefixes_equal_the_verifier_s() -> None:
    """``cli.verify`` keeps its own copy of the payload prefixes (no import on the cold path)."""
    from elicense.cli import verify as cli_verify
    from elicense.verify.inputs import PAYLOAD_PREFIXES

    assert cli_verify._PREFIXES == PAYLOAD_PREFIXES
