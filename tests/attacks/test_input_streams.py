"""Inputs that never end: a FIFO with no writer, a writer that never writes, stdin left open, devices.

``elicense verify PATH`` and ``verify -`` read pipes, FIFOs and devices without blocking: bounded in
size (``MAX_INPUT_BYTES``) and in time (``$ELICENSE_INPUT_TIMEOUT``, default 10 s). The subprocess
timeouts below only keep a regression from hanging the suite; the assertions are on exit code and message.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import NOW
from elicense.errors import InputError
from elicense.verify.inputs import read_input

from ._support import verify_cli

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")


def _cli(world, *args: str, stdin: int | None = None, timeout_env: str = "1") -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "ELICENSE_INPUT_TIMEOUT": timeout_env}
    return verify_cli(*args, trust=world.trust_file, at=NOW, env=env, stdin=stdin, timeout=60)


def test_attack_fifo_input_does_not_hang(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No writer at all: opening does not wait for one, and no writer reads as empty input."""
    fifo = tmp_path / "payload.fifo"
    os.mkfifo(fifo)
    run = _cli(world, str(fifo), timeout_env="30")
    assert run.returncode == 3 and "empty" in run.stderr, run.stderr


def test_attack_fifo_writer_that_never_writes_times_out(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "payload.fifo"
    os.mkfifo(fifo)
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer that keeps the FIFO open, silent
    try:
        run = _cli(world, str(fifo))
    finally:
        os.close(holder)
    assert run.returncode == 3 and "within 1 s" in run.stderr, run.stderr


def test_attack_stdin_left_open_times_out(world) -> None:  # type: ignore[no-untyped-def]
    read_end, write_end = os.pipe()
    try:
        run = _cli(world, "-", stdin=read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert run.returncode == 3 and "within 1 s" in run.stderr, run.stderr


def test_attack_endless_device_is_bounded(world) -> None:  # type: ignore[no-untyped-def]
    run = _cli(world, "/dev/zero", timeout_env="30")
    assert run.returncode == 3 and ("too large" in run.stderr or "within" in run.stderr), run.stderr


def test_fifo_with_a_payload_still_verifies(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "payload.fifo"
    os.mkfifo(fifo)
    payload = world.issued["business-licence-jinan"].qr_payload

    def write() -> None:
        with open(fifo, "w") as fh:  # blocks until the CLI opens the FIFO
            fh.write(payload)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    run = _cli(world, str(fifo), timeout_env="30")
    writer.join(5)
    assert run.returncode == 0 and "VALID" in run.stdout, run.stderr


def test_read_input_api_refuses_what_does_not_end(tmp_path: Path) -> None:
    fifo = tmp_path / "api.fifo"
    os.mkfifo(fifo)
    assert read_input(str(fifo)) == b""  # no writer: empty, at once
    holder = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        with pytest.raises(InputError) as info:
            read_input(str(fifo), timeout=0.2)
        assert info.value.details["reason"] == "input_timeout"
    finally:
        os.close(holder)
    with pytest.raises(InputError, match="too large"):
        read_input("/dev/zero", max_bytes=1 << 20)
    with pytest.raises(InputError, match="directory"):
        read_input(str(tmp_path))
    (tmp_path / "p.txt").write_bytes(b"EL1:ABC")
    assert read_input(str(tmp_path / "p.txt")) == b"EL1:ABC"
