"""Hypothesis strategies: random bytes and mutations (bit flips, truncations, insertions, splices) of real inputs."""

from __future__ import annotations

import os
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

BASE45 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x18, 0x19, 0x1A, 0x1B, 0x9F, 0xBF, 0xD2, 0x3C, 0x3E, 0x22, 0x26)
"""Bytes that change CBOR major types/lengths (0x18-0x1B, 0x9F, 0xBF), tags (0xD2) and XML syntax (< > " &)."""

settings.register_profile(
    "elicense-fuzz-ci",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("elicense-fuzz-long", settings.get_profile("elicense-fuzz-ci"))

PROFILE = "elicense-fuzz-long" if os.environ.get("ELICENSE_FUZZ", "ci") == "long" else "elicense-fuzz-ci"
SCALE = 200 if PROFILE == "elicense-fuzz-long" else 1
"""``ELICENSE_FUZZ=long`` multiplies every target's example budget (a long run: hours)."""
CI_FACTOR = 2
"""The CI budget: about 30 s for all targets on a 2-core machine."""


def fuzz_settings(examples: int) -> settings:
    """Per-test settings of the fuzz profile (never the global profile: other tests use hypothesis too)."""
    return settings(settings.get_profile(PROFILE), max_examples=examples * SCALE * CI_FACTOR)


@st.composite
def mutation(draw: st.DrawFn, seed: bytes, text: bool = False) -> bytes:
    """``seed`` after 1-6 random edits."""
    data = bytearray(seed)
    alphabet = st.sampled_from(BASE45) if text else st.integers(0, 255)
    for _ in range(draw(st.integers(1, 6))):
        n = len(data)
        op = draw(st.sampled_from(("flip", "set", "interesting", "insert", "delete", "truncate", "splice", "dup")))
        pos = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            data[pos] = draw(alphabet)
        elif op == "interesting" and n:
            data[pos] = draw(st.sampled_from(INTERESTING))
        elif op == "insert":
            data[pos:pos] = bytes(draw(st.lists(alphabet, min_size=1, max_size=8)))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "splice" and n:  # copy a chunk of the input over another place
            src, size = draw(st.integers(0, n - 1)), draw(st.integers(1, 32))
            data[pos : pos + size] = data[src : src + size]
        elif op == "dup" and n:  # repeat a chunk (length fields, nested structures)
            size = draw(st.integers(1, 64))
            data[pos:pos] = data[pos : pos + size] * draw(st.integers(1, 4))
    return bytes(data)


def inputs(seeds: Sequence[bytes], text: bool = False) -> st.SearchStrategy[bytes]:
    """Mostly mutations of the seeds; some random bytes (and random Base45 text for text targets)."""
    mutated = st.sampled_from(list(seeds)).flatmap(lambda s: mutation(s, text))
    randoms: list[st.SearchStrategy[bytes]] = [st.binary(max_size=512)]
    if text:
        randoms.append(st.lists(st.sampled_from(BASE45), max_size=400).map(lambda v: b"EL2:" + bytes(v)))
    return st.one_of(mutated, mutated, mutated, *randoms)
