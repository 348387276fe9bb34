"""The click command ``elicense verify`` (its work is :func:`elicense.cli.verify.run_verify`).

Every flag here has its entry in :data:`elicense.cli.verify._FAST_VALUES` / ``_FAST_FLAGS``,
the click-free parser of the common command line (``tests/test_cli_fast_path.py``).
"""

from __future__ import annotations

import click

from elicense.cli.verify import run_verify


@click.command("verify")
@click.argument("inputs", nargs=-1)
@click.option("--trust", metavar="BUNDLE", help="Trust bundle/file (default: $ELICENSE_TRUST).")
@click.option("--at", "at_", metavar="ISO-8601", help="Verify as of this time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input (per licence found).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Message language.")
@click.option("--batch", metavar="FILE|-", help="One payload per line in, one JSON object per line out.")
@click.option("--accept-region", metavar="CODE[,CODE]", help="Accept only licences issued in these regions.")
@click.option("--region", metavar="CODE", help="Verify as a relying party of this region (its recognition agreements).")
@click.option(
    "--state",
    "state_dir",
    metavar="DIR",
    default=None,
    help="Verifier state directory (default: $ELICENSE_STATE): refuses older bundles and status lists.",
)
@click.option("--allow-alg", "--algorithms", "allow_alg", multiple=True, metavar="ALG[,ALG]",
              help="Accepted signature algorithms, replacing the default ES256,EdDSA,PS256 "
                   "(e.g. --allow-alg SM2; default: $ELICENSE_ALGORITHMS).")  # fmt: skip
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    metavar="N",
    help="With --batch: verify in N processes (output order and content unchanged).",
)
def verify_cmd(
    inputs: tuple[str, ...],
    trust: str | None,
    at_: str | None,
    as_json: bool,
    lang: str | None,
    batch: str | None,
    accept_region: str | None,
    region: str | None,
    allow_alg: tuple[str, ...] = (),
    state_dir: str | None = None,
    workers: int = 1,
) -> int:
    """Verify licences: payload text files, QR images, PDFs, or - for stdin.

    Exit 0 valid, 1 invalid, 2 indeterminate, 3+ error; with several inputs, the worst.
    """
    return run_verify(
        inputs,
        trust,
        at_,
        as_json,
        lang,
        batch,
        accept_region,
        region,
        allow_alg,
        state_dir,
        workers,
        echo=click.echo,
    )
