"""``elicense seal …``: electronic seals and seal signatures made by any system (GB/T 38540, GM/T 0031, GB/T 35275).

``elicense seal inspect FILE…`` reports what a ``.esl`` seal, an OFD ``SignedValue.dat`` or
any DER seal structure is: version, producer, seal name and type, validity, picture,
certificates, which bytes each signature covers and whether it verifies over them, and every
deviation from the standard. Exit codes: 0 every signature verifies, 1 one does not,
3 an input is none of the known kinds (typed error, one line, no traceback).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("seal")
def seal_group() -> None:
    """Electronic seals and seal signatures — 电子印章与电子签章."""


@seal_group.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
def inspect_cmd(files: tuple[Path, ...], as_json: bool, lang: str) -> int:
    """Describe seals (.esl), SES signatures (SignedValue.dat) and GB/T 35275 SignedData (DER)."""
    from elicense.errors import ElicenseError, InputError
    from elicense.seal.inspect import MAX_INSPECT_BYTES, inspect_bytes, render_text, signatures_ok

    code = 0
    out: list[dict[str, object]] = []
    for path in files:
        try:
            try:
                with path.open("rb") as fh:
                    data = fh.read(MAX_INSPECT_BYTES + 1)
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}", message_zh=f"无法读取 {path}") from exc
            report = inspect_bytes(data)
        except ElicenseError as exc:
            code = 3
            out.append({"input": str(path), "error": exc.code, "message": exc.localized(lang)})
            continue
        if not signatures_ok(report) and code == 0:
            code = 1
        out.append({"input": str(path), **report})
    if as_json:
        click.echo(json.dumps(out if len(out) != 1 else out[0], ensure_ascii=False, indent=1))
    else:
        for item in out:
            if "error" in item:
                click.echo(f"{item['input']}: error: {item['message']}", err=True)
                continue
            click.echo(f"== {item['input']}")
            click.echo(render_text(item, lang))
    sys.stdout.flush()
    return code
