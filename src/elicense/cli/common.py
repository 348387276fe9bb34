"""What every ``elicense`` command module shares: exit codes, the message language, one-line errors.

Apart from :mod:`elicense.cli` so that command modules never import the package that loads them
(``elicense.cli`` → ``app`` / ``verify`` → here, one direction; an import contract holds it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from elicense.errors import ElicenseError

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_INDETERMINATE = 2
EXIT_ERROR = 3
EXIT_INTERNAL = 4


def default_lang() -> str:
    """``zh`` when the locale is Chinese, else ``en``."""
    for var in ("ELICENSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def error_line(exc: ElicenseError, lang: str | None = None) -> str:
    """The one-line message for an error."""
    return f"elicense: error: {exc.localized(lang or default_lang())}"


COMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("verify_command", "verify_cmd"),
    "id": ("ident", "id_group"),
    "demo": ("demo", "demo_cmd"),
    "issue": ("issue", "issue_cmd"),  # registry issue (#6)
    "registry": ("registry", "registry_group"),
    "audit": ("audit", "audit_group"),
    "revoke": ("status", "revoke_cmd"),  # revoke / suspend / reinstate / supersede, status (#5)
    "suspend": ("status", "suspend_cmd"),
    "reinstate": ("status", "reinstate_cmd"),
    "supersede": ("status", "supersede_cmd"),
    "status": ("status", "status_group"),
    "trust": ("trust", "trust_group"),  # (#4)
    "bundle": ("trust", "bundle_cmd"),
    "render": ("pdf", "render_cmd"),  # (#3)
    "pdf": ("pdf", "pdf_group"),  # pdf extend (#19)
    "sm2": ("sm2", "sm2_group"),  # (#10)
    "seal": ("seal", "seal_group"),  # (#17)
    "present": ("present", "present_cmd"),  # (#9)
    "kiosk": ("kiosk", "kiosk_cmd"),
    "types": ("types", "types_group"),  # the catalogue, for issuers (#20)
}
"""Command name → (module under ``elicense.cli``, attribute): a new command is one line here."""


def lang_arg(args: Sequence[str]) -> str | None:
    """The ``--lang`` value on the command line, if any (for errors raised before a command reads it)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
        elif arg == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        else:
            continue
        return value if value in ("zh", "en") else None
    return None


def echo_err(message: str) -> None:
    """One line on stderr (errors and warnings of every command path)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


_closed = [False]
"""Whether the running command said it closed everything it opened (see :func:`nothing_left_open`)."""


def nothing_left_open(done: bool = True) -> None:
    """Said by a command once it has closed everything it opened (its registry, worker pool and files) and
    written its output: :func:`elicense.cli.main` then ends the process after the exit handlers, without
    the interpreter's teardown, which frees every module and object one by one (~20 ms after a click-free
    verify; 0.15–0.35 s after a batch that loaded pyHanko, SQLAlchemy and fpdf2). ``done=False``: reset,
    at the start of each run."""
    _closed[0] = done


def closed_everything() -> bool:
    """Whether the running command said :func:`nothing_left_open`."""
    return _closed[0]
