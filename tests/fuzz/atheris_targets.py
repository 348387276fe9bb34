"""Coverage-guided fuzzing of one decoder with atheris (libFuzzer), on the same targets as the hypothesis tests.

Usage::

    .venv/bin/python tests/fuzz/atheris_targets.py TARGET [libFuzzer args, e.g. -max_total_time=600 CORPUS_DIR]
    .venv/bin/python tests/fuzz/atheris_targets.py --list

Needs the optional ``fuzz`` extra (``pip install -e '.[fuzz]'``). Without a corpus directory the
target's seeds (valid inputs of a deterministic demo world) are written to a temporary one. A
crash (any exception but an ``ElicenseError``, or a contract assertion) is written by libFuzzer
to ``crash-*`` in the working directory; replay it with ``TARGET crash-file``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ (for the fuzz package and trust_world)

_MODULES = (
    "elicense.qr.base45", "elicense.qr.cbor", "elicense.qr.cose", "elicense.qr.claims", "elicense.qr.payload",
    "elicense.qr.decode", "elicense.present.presentation", "elicense.qr.mso", "elicense.present.verify",
    "elicense.trust.lists", "elicense.trust.bundle", "elicense.trust.store", "elicense.status.statuslist",
    "elicense.status.store", "elicense.status.crl", "elicense.verify.verifier", "elicense.verify.inputs",
    "elicense.crypto.algorithms", "elicense.crypto.pki", "elicense.seal.ses", "elicense.trust.file",
    "elicense.trust.policy", "elicense.status.section", "elicense.kiosk.server", "elicense.pdf.verify",
)  # fmt: skip


def main(argv: list[str]) -> int:
    from fuzz._corpus import NAMES

    if len(argv) < 2 or argv[1] in {"-h", "--help", "--list"}:
        print(__doc__)
        print("targets:", " ".join(NAMES))
        return 0 if len(argv) >= 2 else 2
    name, fuzzer_args = argv[1], argv[2:]
    if name not in NAMES:
        print(f"unknown target {name!r}; targets: {' '.join(NAMES)}", file=sys.stderr)
        return 2
    try:
        import atheris
    except ImportError:
        print(
            "atheris is not installed: pip install -e '.[fuzz]' (needs a clang/libFuzzer-capable platform)",
            file=sys.stderr,
        )
        return 3
    import contextlib
    import importlib

    with atheris.instrument_imports(include=["elicense"]):
        for module in _MODULES:
            with contextlib.suppress(ImportError):  # optional extras (SM2 seals)
                importlib.import_module(module)
    from fuzz._corpus import targets

    target = targets().get(name)
    if target is None:
        print(f"target {name} needs an optional dependency that is missing", file=sys.stderr)
        return 3
    if not any(not a.startswith("-") for a in fuzzer_args):  # no corpus dir or crash file given
        corpus = Path(tempfile.mkdtemp(prefix=f"elicense-fuzz-{name}-"))
        for i, seed in enumerate(target.seeds):
            (corpus / f"seed-{i}").write_bytes(seed)
        fuzzer_args.append(str(corpus))
    run = target.run

    def one_input(data: bytes) -> None:
        run(data)

    atheris.Setup([argv[0], *fuzzer_args], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
