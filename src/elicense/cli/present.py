"""``elicense present ID --home DIR``: the holder app's short-lived presentation QR (亮证).

Prints the ``EP1:`` payload on stdout (the QR version and expiry go to stderr, so
``elicense present ID --home H > p.txt`` gives a file ``elicense verify`` reads);
``-o FILE.png`` writes the QR image. The first presentation of a licence makes its
holder credential (device key + issuer-signed MSO) under ``HOME/holder/``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from elicense.cli.common import default_lang
from elicense.cli.registry import db_option, home_option
from elicense.errors import UsageError


def default_show(credential: object, type_code: str) -> list[str]:
    """What a holder shows unless told otherwise: the name and the fields the static QR shows."""
    from elicense.catalog import Catalog

    elements = getattr(credential, "elements", {})
    lt = Catalog.default().find(type_code)
    shown = [f.key for f in lt.fields if f.qr == "show"] if lt is not None else []
    return [name for name in ("holder_name", *shown) if name in elements]


def _refuse_unknown_fields(licence_id: str, show: str) -> None:
    """Unknown ``--show`` names for the licence's type (catalogue element names)."""
    from elicense.catalog import Catalog
    from elicense.identifiers import LicenceId
    from elicense.qr.mso import element_ids

    known = element_ids(Catalog.default().get(LicenceId.parse(licence_id.strip()).type_code))
    unknown = [n.strip() for n in show.split(",") if n.strip() and n.strip() not in known]
    if unknown:
        raise UsageError(
            f"--show: unknown field {', '.join(unknown)} (this licence type has: {', '.join(known)})",
            message_zh=f"--show：未知字段 {', '.join(unknown)}（该类证照可出示：{', '.join(known)}）",
        )


@click.command("present")
@click.argument("licence_id", metavar="LICENCE")
@home_option
@db_option
@click.option("--ttl", type=click.IntRange(1, 3600), default=300, show_default=True, help="Lifetime in seconds.")
@click.option(
    "--show", "show", default=None, metavar="FIELD,...",
    help="Elements to disclose (holder_name, holder_code, catalogue field keys); default: holder_name and the "
    "fields the static QR shows.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Write the QR as PNG."
)
@click.option("--at", "at_text", default=None, help="Presentation time, ISO-8601 (default: now; for tests/demos).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def present_cmd(
    licence_id: str, home_dir: Path, db: str | None, ttl: int, show: str | None, output: Path | None,
    at_text: str | None, as_json: bool,
) -> int:  # fmt: skip
    """Show a licence as a short-lived, device-signed presentation QR (亮证).

    LICENCE: its id, its source id, or a sample name in HOME/licences.
    """
    from elicense.cli.licence_ref import resolve_licence
    from elicense.cli.verify import parse_at
    from elicense.home import Home
    from elicense.present import make_presentation
    from elicense.qr.render import make_qr
    from elicense.services.status import open_registry

    at = parse_at(at_text) or dt.datetime.now(dt.UTC)
    home = Home.load(home_dir)
    with open_registry(home, db) as registry:
        licence_id = resolve_licence(home, licence_id, registry)
    if show is not None:  # before the wallet is made (first use writes it): nothing written on a bad --show
        _refuse_unknown_fields(licence_id, show)
    # the MSO is an issuer signature: made at the real time, whatever --at says about the presentation
    credential, device = home.holder_credential(licence_id, at=dt.datetime.now(dt.UTC), db=db)
    if show is None:
        names = default_show(credential, credential.type_code)
    else:
        names = [n.strip() for n in show.split(",") if n.strip()]
        if not names:
            raise UsageError(f"--show: no field given (this licence has: {', '.join(credential.elements)})")
    presentation = make_presentation(credential, device, show=names, ttl=ttl, now=at)
    qr = make_qr(presentation.payload)
    version = int(qr.version)
    if output is not None:
        import io

        from elicense.crypto.keys import atomic_write

        buf = io.BytesIO()
        qr.save(buf, kind="png", scale=6, border=4)
        atomic_write(output, buf.getvalue())
    expires = presentation.expires_at.isoformat().replace("+00:00", "Z")
    if as_json:
        click.echo(json.dumps({
            "id": presentation.licence_id,
            "payload": presentation.payload,
            "qr_version": version,
            "issued_at": presentation.issued_at.isoformat().replace("+00:00", "Z"),
            "expires_at": expires,
            "ttl": ttl,
            "nonce": presentation.nonce.hex(),
            "disclosed": list(presentation.disclosed),
            "png": str(output) if output is not None else None,
        }, ensure_ascii=False))  # fmt: skip
        return 0
    click.echo(presentation.payload)
    from elicense.trust.freshness import human_time

    zh = default_lang() == "zh"
    shown = ", ".join(presentation.disclosed) or "-"
    click.echo(
        f"二维码版本 {version}-M，有效至 {human_time(presentation.expires_at, 'zh')}（{ttl} 秒），出示：{shown}"
        if zh
        else f"QR version {version}-M, expires {expires} ({ttl} s), disclosed: {shown}",
        err=True,
    )
    if output is not None:
        click.echo(("二维码图像：" if zh else "QR image: ") + str(output), err=True)
    return 0
