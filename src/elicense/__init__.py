"""elicense: issue, sign, verify and revoke electronic licences (电子证照) and seals.

The top-level package stays import-light: the CLI's QR verify path must not pull
in PDF, image or XML stacks. Import what you need from the submodules
(``elicense.verify``, ``elicense.issue``, ``elicense.identifiers``, ...).
"""

import os

__version__ = "0.1.0"

__all__ = ["__version__"]

_crash_hits: dict[str, int] = {}


def _crashpoint(name: str) -> None:
    """Test hook for crash-safety tests: a no-op unless ``ELICENSE_TEST_CRASH_AT`` names this point.

    ``ELICENSE_TEST_CRASH_AT=point`` (or ``point:N`` for the N-th time it is reached) kills the
    process with SIGKILL there, as a power cut or ``kill -9`` would: no ``finally``, no flush.
    """
    target = os.environ.get("ELICENSE_TEST_CRASH_AT")
    if not target:
        return
    point, _, nth = target.partition(":")
    if point != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
