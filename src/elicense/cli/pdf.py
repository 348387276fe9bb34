"""``elicense render``: the sealed, signed PDF of a licence issued from an issuer home."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from elicense.errors import StorageError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from elicense.home import Home
    from elicense.issue import IssuedLicence


def find_issued(home: Home, name_or_id: str) -> IssuedLicence:
    """The issued licence called ``name_or_id``: from the registry, else ``licences/<name>.cose``.

    The one place that knows where issued licences live.
    """
    try:
        registry = home.registry(create=False)
        record = registry.get(name_or_id)
        if record is not None:
            return record.to_issued()
    except (AttributeError, ImportError, StorageError):
        pass
    except Exception as exc:  # registry unavailable/corrupt: fall back to the files
        if not isinstance(exc, OSError) and type(exc).__module__.startswith("elicense"):
            raise
    if "/" in name_or_id or "\\" in name_or_id or name_or_id.startswith("."):
        raise UsageError(f"no licence {name_or_id!r} in {home.path}", message_zh=f"未找到证照 {name_or_id!r}")
    base = home.path / "licences" / name_or_id
    try:
        full = base.with_suffix(".cose").read_bytes()
        qr = base.with_suffix(".qr.txt").read_text("ascii").strip()
    except OSError as exc:
        raise UsageError(f"no licence {name_or_id!r} in {home.path}", message_zh=f"未找到证照 {name_or_id!r}") from exc
    return _issued_from_files(full, qr)


def _resolve(home: Home, name: str) -> str:
    """``--licence``: an id, a source id or a sample name (see :mod:`elicense.cli.licence_ref`)."""
    from elicense.cli.licence_ref import resolve_licence, sample_id

    if sample_id(home.path, name.strip()) is not None:  # a file sample renders even without a registry
        return name.strip()
    try:
        registry = home.registry(create=False)
    except (AttributeError, ImportError, StorageError):
        registry = None
    try:
        return resolve_licence(home, name, registry)
    finally:
        if registry is not None:
            registry.close()


def _issued_from_files(full: bytes, qr: str) -> IssuedLicence:
    """Rebuild an :class:`IssuedLicence` from its signed record and QR text (both as issued)."""
    from elicense.catalog import Catalog
    from elicense.errors import LicenceDataError
    from elicense.identifiers import LicenceId
    from elicense.issue import IssuedLicence
    from elicense.model import Authority, Holder, HolderType, Licence, Validity
    from elicense.qr import cbor
    from elicense.qr.claims import parse_claims
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap

    try:
        doc: Any = cbor.loads(parse_sign1(full).payload, max_depth=4)
        catalog = Catalog.default()
        claims = parse_claims(
            parse_sign1(unwrap(qr)).payload,
            issuer_code=doc["issuer"]["code"],
            area_code=doc["issuer"]["area_code"],
            holder_types_of=lambda code: catalog.get(code).holder_types,
        )  # compact payloads
        lt = catalog.get(doc["type_code"])
        day = dt.date.fromisoformat
        licence = Licence(
            id=LicenceId.parse(doc["id"]),
            number=doc["number"],
            holder=Holder(doc["holder"]["name"], doc["holder"]["code"], HolderType(doc["holder"]["code_type"])),
            issuer=Authority(doc["issuer"]["name"], doc["issuer"]["code"], doc["issuer"]["area_code"]),
            issued_on=day(doc["issued_on"]),
            validity=Validity(day(doc["valid_from"]), day(doc["valid_until"]) if doc["valid_until"] else None),
            fields=lt.validate_fields(doc.get("fields") or {}),
            supersedes=LicenceId.parse(doc["supersedes"]) if doc.get("supersedes") else None,
            status_index=doc.get("status_index"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LicenceDataError(
            f"stored licence record is malformed: {exc}", message_zh="存储的证照数据格式错误"
        ) from exc
    return IssuedLicence(licence, qr, full, claims.signed_at)


def pdf_level_option(name: str, what: str) -> Callable[[F], F]:
    """``--pdf-level`` as ``render`` and ``issue`` take it (the levels of :data:`elicense.pdf.PADES_LEVELS`)."""
    from elicense.pdf import PADES_LEVELS

    return click.option(
        "--pdf-level",
        name,
        type=click.Choice(PADES_LEVELS),
        default="B-B",
        show_default=True,
        help=f"{what}: B-T adds an RFC 3161 timestamp, B-LT also embeds the chain's CRLs (DSS), "
        "B-LTA adds a document timestamp over them.",
    )


tsa_url_option = click.option(
    "--tsa-url",
    default=None,
    metavar="URL",
    help="RFC 3161 timestamp authority for B-T/B-LT/B-LTA (default: an in-process TSA certified by "
    "HOME's root; needs the root key).",
)
"""``--tsa-url`` of every command that timestamps a PDF."""


@click.command("render")
@click.option(
    "--home", "home_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Issuer home directory."
)
@click.option("--licence", "name", required=True, help="Licence id, source id, or sample name in HOME/licences.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the signed PDF (or OFD).",
)
@click.option(
    "--font",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Font file to use instead of the packaged Noto Serif CJK SC subset.",
)
@pdf_level_option("level", "PAdES level")
@tsa_url_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "ofd"]),
    default="pdf",
    show_default=True,
    help="pdf: PAdES-signed PDF; ofd: OFD (GB/T 33190) sealed with the authority's GB/T 38540 seal (an SM2 home).",
)
def render_cmd(
    home_dir: Path, name: str, output: Path, font: Path | None, level: str, tsa_url: str | None, fmt: str = "pdf"
) -> int:
    """Render, seal and sign the PDF (or the OFD) of a licence issued from HOME."""
    from elicense.crypto.keys import atomic_write
    from elicense.home import Home

    if fmt == "ofd":
        from elicense.documents import issue_ofd, require_seals

        home = Home.load(home_dir)
        require_seals(home)
        issued = find_issued(home, name)
        atomic_write(output, issue_ofd(home, issued, font_path=font))
        click.echo(f"{output}: {issued.licence.id}")
        return 0
    from elicense.documents import options_for_home
    from elicense.pdf.render import render_licence
    from elicense.pdf.sign import seal_and_sign

    home = Home.load(home_dir)
    issued = find_issued(home, _resolve(home, name))
    entry = home.authority(issued.licence.issuer.code)
    options = options_for_home(home, level, at=issued.signed_at, seal_name=entry.seal_name, tsa_url=tsa_url)
    rendered = render_licence(issued, font_path=font)
    data = seal_and_sign(issued, home.signer(entry), rendered=rendered, options=options)
    atomic_write(output, data)
    click.echo(f"{output}: {issued.licence.id}")
    return 0


@click.group("pdf")
def pdf_group() -> None:
    """Long-term care of signed licence PDFs."""


@pdf_group.command("extend")
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--home",
    "home_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Issuer home whose CAs sign the fresh CRLs (and whose root certifies the in-process TSA).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the extended PDF.",
)
@tsa_url_option
def extend_cmd(source: Path, home_dir: Path, output: Path, tsa_url: str | None) -> int:
    """Add fresh validation data and a new archive timestamp to a signed PDF (PAdES B-LTA renewal)."""
    from elicense.crypto.keys import atomic_write
    from elicense.documents import extend_for_home
    from elicense.home import Home

    home = Home.load(home_dir)
    try:
        size = source.stat().st_size
        if size > MAX_EXTEND_BYTES:
            raise UsageError(f"{source} is larger than {MAX_EXTEND_BYTES} bytes")
        data = source.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read {source}: {exc.strerror}") from exc
    extended = extend_for_home(data, home, tsa_url=tsa_url)
    atomic_write(output, extended)
    click.echo(f"{output}: +{len(extended) - len(data)} bytes (fresh CRLs, archive timestamp)")
    return 0


MAX_EXTEND_BYTES = 64 * 1024 * 1024
"""Largest PDF ``pdf extend`` reads."""
