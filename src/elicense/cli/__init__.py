"""The ``elicense`` command line.

Exit codes are a public contract: 0 valid, 1 invalid, 2 indeterminate, 3 and
above for errors (bad input, bad trust data, usage). Every error is one line
on stderr, never a traceback. Commands import heavy stacks lazily so that
``elicense verify X.qr.txt`` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from elicense import __version__
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


_COMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("verify", "verify_cmd"),
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
    "sm2": ("sm2", "sm2_group"),  # (#10)
    "present": ("present", "present_cmd"),  # (#9)
    "kiosk": ("kiosk", "kiosk_cmd"),
}
"""Command name → (module under ``elicense.cli``, attribute): a new command is one line here."""


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or ``--help`` lists it).

    ``elicense verify X.qr.txt`` then loads the verify stack alone, not the
    registry, PDF, SM2 or kiosk modules of the other commands (cold start, #8).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, loaded or not."""
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module on first use."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _COMMANDS:
            import importlib

            module, attr = _COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"elicense.cli.{module}"), attr)
            self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="elicense")
def cli() -> None:
    """Issue, sign, verify and revoke electronic licences (电子证照)."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map outcomes to exit codes."""
    code = run(argv)
    sys.stdout.flush()
    sys.exit(code)


def _lang_arg(args: Sequence[str]) -> str | None:
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


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code (used by tests and ``main``)."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="elicense", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx else "elicense"
        hint = f" (see '{path} --help')"
        click.echo(f"elicense: usage error: {exc.format_message()}{hint}", err=True)
        return EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("elicense: aborted", err=True)
        return EXIT_ERROR
    except click.exceptions.ClickException as exc:
        click.echo(f"elicense: error: {exc.format_message()}", err=True)
        return EXIT_ERROR
    except ElicenseError as exc:  # raised outside a command's own handling: still honour --lang
        click.echo(error_line(exc, _lang_arg(sys.argv[1:] if argv is None else argv)), err=True)
        return EXIT_ERROR
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("elicense: interrupted", err=True)
        return 130
    except OSError as exc:
        click.echo(f"elicense: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        return EXIT_ERROR
    except Exception as exc:  # last resort: still one line, and a distinct code
        if os.environ.get("ELICENSE_DEBUG"):
            raise
        click.echo(
            f"elicense: internal error: {type(exc).__name__}: {exc} (set ELICENSE_DEBUG=1 for a traceback)", err=True
        )
        return EXIT_INTERNAL
    return int(rv) if isinstance(rv, int) else 0
