"""The click application: the command group, lazy command loading, click's errors → exit codes.

Kept apart from :mod:`elicense.cli` so that the common ``elicense verify X.qr.txt``
can run without importing click at all (cold start, #8): see :func:`elicense.cli.run`.
"""

from __future__ import annotations

import importlib
import os

import click

from elicense import __version__
from elicense.cli.common import COMMANDS, EXIT_ERROR, default_lang, echo_err, lang_arg


class _Escaped(Exception):
    """Carries an interrupt or a broken pipe past click's own handling to :func:`elicense.cli.run`.

    click turns Ctrl-C into "Aborted" and a broken pipe into exit 1 (our code for an
    INVALID licence); ``run`` gives both their documented codes, on every path.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or ``--help`` lists it).

    ``elicense verify X.qr.txt`` then loads the verify stack alone, not the
    registry, PDF, SM2 or kiosk modules of the other commands (cold start, #8).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, loaded or not."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module on first use."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"elicense.cli.{module}"), attr)
            _give_lang(command)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; interrupts and broken pipes go to ``run``'s handlers, not click's."""
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, BrokenPipeError) as exc:
            raise _Escaped(exc) from exc


def _set_lang(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        os.environ["ELICENSE_LANG"] = value  # default_lang() reads it: every message of the command follows


def _give_lang(command: click.Command) -> None:
    """Every command (and subcommand) takes ``--lang zh|en``, not only ``verify`` and ``demo`` (#20)."""
    if not any("--lang" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(
            click.Option(
                ["--lang"],
                type=click.Choice(["zh", "en"]),
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_set_lang,
                help="Message language (default: from the locale).",
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _give_lang(sub)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="elicense")
def cli() -> None:
    """Issue, sign, verify and revoke electronic licences (电子证照)."""


def run_click(args: list[str]) -> int:
    """Parse ``args`` with click and run the command; click's own errors become one line and exit 3.

    Every other exception (``ElicenseError``, ``OSError``, interrupts, ...) propagates to
    :func:`elicense.cli.run`, which handles it the same way for the click-free path.
    """
    saved_lang = os.environ.get("ELICENSE_LANG")
    try:
        rv = cli.main(args=args, prog_name="elicense", standalone_mode=False)
    except _Escaped as exc:
        raise exc.original from None
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx else "elicense"
        if (lang_arg(args) or default_lang()) == "zh":
            echo_err(f"elicense: 用法错误：{_usage_zh(exc)}（参见 '{path} --help'）")
        else:
            echo_err(f"elicense: usage error: {exc.format_message()} (see '{path} --help')")
        return EXIT_ERROR
    except click.exceptions.Abort:
        echo_err("elicense: aborted")
        return EXIT_ERROR
    except click.exceptions.ClickException as exc:
        echo_err(f"elicense: error: {exc.format_message()}")
        return EXIT_ERROR
    finally:  # --lang lasts one command line (tests and embedders run many in one process)
        if saved_lang is None:
            os.environ.pop("ELICENSE_LANG", None)
        else:
            os.environ["ELICENSE_LANG"] = saved_lang
    return int(rv) if isinstance(rv, int) else 0


def _usage_zh(exc: click.exceptions.UsageError) -> str:
    """click's usage errors in Chinese for the common kinds; click's own wording (English) as the detail otherwise."""
    if isinstance(exc, click.exceptions.NoSuchOption):
        near = f"（是否想用 {'、'.join(sorted(exc.possibilities))}）" if exc.possibilities else ""
        return f"没有选项 {exc.option_name}{near}"
    if isinstance(exc, click.exceptions.MissingParameter):
        hint = exc.param.get_error_hint(exc.ctx) if exc.param is not None and exc.ctx is not None else ""
        return f"缺少参数 {hint}".rstrip()
    if isinstance(exc, click.exceptions.BadParameter):
        hint = exc.param.get_error_hint(exc.ctx) if exc.param is not None and exc.ctx is not None else ""
        return f"参数 {hint} 的值无效：{exc.message}" if hint else f"参数值无效：{exc.message}"
    if isinstance(exc, click.exceptions.BadOptionUsage):
        if "requires an argument" in exc.message:
            return f"选项 {exc.option_name} 需要一个值"
        if "does not take a value" in exc.message:
            return f"选项 {exc.option_name} 不接受值"
        return f"选项 {exc.option_name}：{exc.message}"
    message = exc.format_message()
    if message.startswith("No such command"):
        return f"没有命令 {message.split(' ', 3)[-1].rstrip('.')}"
    return message
