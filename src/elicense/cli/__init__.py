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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="elicense")
def cli() -> None:
    """Issue, sign, verify and revoke electronic licences (电子证照)."""


def _register() -> None:
    from elicense.cli import demo, ident, verify

    cli.add_command(verify.verify_cmd)
    cli.add_command(ident.id_group)
    cli.add_command(demo.demo_cmd)
    from elicense.cli import audit, issue, registry  # registry issue (#6)

    cli.add_command(issue.issue_cmd)
    cli.add_command(registry.registry_group)
    cli.add_command(audit.audit_group)
    from elicense.cli import status  # revoke / suspend / reinstate / supersede, status (#5)

    for command in status.COMMANDS:
        cli.add_command(command)
    from elicense.cli import trust; cli.add_command(trust.trust_group); cli.add_command(trust.bundle_cmd)  # noqa: E702, I001 (#4)
    from elicense.cli import pdf; cli.add_command(pdf.render_cmd)  # noqa: E702, I001 (#3)
    from elicense.cli import sm2; cli.add_command(sm2.sm2_group)  # noqa: E702, I001 (#10)
    from elicense.cli import present; cli.add_command(present.present_cmd)  # noqa: E702, I001 (#9)
    from elicense.cli import kiosk; cli.add_command(kiosk.kiosk_cmd)  # noqa: E702, I001 (#9)


_register()


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
