"""The click command ``elicense verify``, built from :data:`elicense.cli.verify.OPTIONS`.

Its work is :func:`elicense.cli.verify.run_verify`; the same table drives the click-free parser
of the common command line (:func:`elicense.cli.verify.fast_options`), so the two accept the
same options by construction (``tests/cli/test_fast_path.py`` also holds their results equal).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from elicense.cli.verify import OPTIONS, Opt, VerifyOptions, run_verify

_DEFAULTS = {field.name: field.default for field in dataclasses.fields(VerifyOptions)}


def _option(opt: Opt) -> click.Option:
    """The click option of one table row."""
    if opt.flag:
        return click.Option([*opt.flags, opt.dest], is_flag=True, help=opt.help)
    if opt.int_range is not None:
        low, high = opt.int_range
        return click.Option(
            [*opt.flags, opt.dest],
            type=click.IntRange(low, high),
            default=_DEFAULTS[opt.dest],
            show_default=True,
            metavar=opt.metavar,
            help=opt.help,
        )
    return click.Option(
        [*opt.flags, opt.dest],
        type=click.Choice(list(opt.choices)) if opt.choices is not None else None,
        multiple=opt.multiple,
        metavar=opt.metavar,
        help=opt.help,
    )


@click.command("verify", params=[click.Argument(["inputs"], nargs=-1), *map(_option, OPTIONS)])
def verify_cmd(inputs: tuple[str, ...], **values: Any) -> int:  # click passes each option by its dest
    """Verify licences: payload text files, QR images, PDFs, or - for stdin.

    Exit 0 valid, 1 invalid, 2 indeterminate, 3+ error; with several inputs, the worst.
    """
    return run_verify(VerifyOptions(inputs, **values), echo=click.echo)
