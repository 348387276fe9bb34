"""Helpers shared by the attack tests: bounded-memory measurement and a signed demo PDF."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

MiB = 1 << 20


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Peak Python-heap bytes allocated inside the block (tracemalloc); ``out[0]`` after exit."""
    out = [0]
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield out
    finally:
        out[0] = tracemalloc.get_traced_memory()[1] - base
        if not was:
            tracemalloc.stop()


def raises_typed(fn: Callable[[], Any]) -> BaseException:
    """Run ``fn``; it must raise an ElicenseError subclass (returned)."""
    from elicense.errors import ElicenseError

    try:
        fn()
    except ElicenseError as exc:
        return exc
    raise AssertionError("no typed error raised")


def verify_cli(
    *args: str, trust: Any, at: Any, env: dict[str, str] | None = None, stdin: int | None = None, timeout: float = 120
) -> Any:
    """``elicense verify ARGS --trust TRUST --at AT`` in a fresh interpreter (what a user's shell runs)."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "elicense.cli", "verify", *args, "--trust", str(trust), "--at", at.isoformat()],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=stdin,
        check=False,
    )
