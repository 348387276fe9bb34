"""Shared fixtures: a deterministic demo world (seeded keys), built once per session."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # a run started in the background of a non-interactive shell (``cmd &``, nohup) inherits Ctrl-C ignored,
    # and so would every command the tests start: the Ctrl-C tests send it and expect it to be acted on
    signal.signal(signal.SIGINT, signal.default_int_handler)

NOW = dt.datetime(2026, 6, 1, 8, 0, 0, tzinfo=dt.UTC)
SEED = b"elicense-test-pki"


@pytest.fixture(scope="session", autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The kiosk's default verifier state lives under $XDG_STATE_HOME: keep it inside the test run."""
    import os

    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo world at a fixed time with a deterministic PKI (no images, no PDFs)."""
    from elicense.demo import build_demo

    out: Path = tmp_path_factory.mktemp("world")
    return build_demo(out, now=NOW, seed=SEED, images=False, pdf=False)


@pytest.fixture(scope="session")
def verifier(world):  # type: ignore[no-untyped-def]
    from elicense.verify import Verifier

    return Verifier.from_trust_file(world.trust_file, clock=lambda: NOW)
