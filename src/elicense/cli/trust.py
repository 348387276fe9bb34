"""``elicense trust show|export|update|pin`` and ``elicense bundle``: the offline trust bundle on the command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from elicense.cli.common import default_lang
from elicense.errors import UsageError

if TYPE_CHECKING:
    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.home import Home
    from elicense.trust.bundle import Bundle


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _now(at: str | None) -> dt.datetime:
    from elicense.cli.verify import parse_at

    return parse_at(at) or dt.datetime.now(dt.UTC).replace(microsecond=0)


def _algorithms(values: tuple[str, ...]) -> AlgorithmPolicy | None:
    """``--allow-alg`` / ``$ELICENSE_ALGORITHMS`` (SM2 bundles need it), as for ``elicense verify``."""
    from elicense.cli.verify import algorithm_policy

    return algorithm_policy(values)


def describe(bundle: Bundle, at: dt.datetime) -> dict[str, Any]:
    """JSON-ready description of a bundle (the ``trust show --json`` contract)."""
    from elicense.catalog import Catalog
    from elicense.crypto.pki import common_name_of

    catalog = Catalog.default()

    def type_entry(code: str) -> dict[str, Any]:
        lt = catalog.find(code)
        return {"code": code, "name_zh": lt.name_zh if lt else None, "name_en": lt.name_en if lt else None}

    regions = []
    for code, summary in sorted(bundle.regions.items()):
        regions.append(
            {
                "region": code,
                "name": summary.name,
                "operator": summary.operator,
                "sequence": summary.sequence,
                "issued_at": _iso(summary.issued_at),
                "next_update": _iso(summary.next_update),
                "stale": at > summary.next_update,
                "authorities": [
                    {
                        "name": a.name,
                        "code": a.code,
                        "area_code": a.area_code,
                        "licence_types": [type_entry(t) for t in a.licence_types],
                        "history": [{"status": s, "from": _iso(t)} for s, t in a.history],
                        "certificates": [
                            {
                                "subject": common_name_of(c),
                                "not_before": _iso(c.not_valid_before_utc),
                                "not_after": _iso(c.not_valid_after_utc),
                                "serial": format(c.serial_number, "x"),
                            }
                            for c in a.certificates
                        ],
                    }
                    for a in bundle.authorities
                    if a.region == code
                ],
            }
        )
    return {
        "format": "elicense-bundle/1",
        "sequence": bundle.sequence,
        "issued_at": _iso(bundle.issued_at),
        "next_update": _iso(bundle.next_update),
        "stale": at > bundle.stale_after,
        "signer": common_name_of(bundle.signer.certificate),
        "roots": [
            {
                "subject": common_name_of(e.root),
                "cross_certified": e.cross is not None,
                "drop_previous": e.drop_previous,
            }
            for e in bundle.roots
        ],
        "national": {
            "operator": bundle.national.operator,
            "sequence": bundle.national.sequence,
            "issued_at": _iso(bundle.national.issued_at),
            "next_update": _iso(bundle.national.next_update),
        },
        "regions": regions,
        "agreements": [
            {
                "relying": ag.relying,
                "issuing": ag.issuing,
                "licence_types": [type_entry(t) for t in sorted(ag.licence_types)],
            }
            for ag in bundle.agreements
        ],
        "equivalences": [sorted(e) for e in bundle.equivalences],
        "extras": sorted(bundle.extras),
    }


@click.group("trust")
def trust_group() -> None:
    """Inspect, export and update the signed offline trust bundle."""


_allow_alg_option = click.option(
    "--allow-alg",
    "allow_alg",
    multiple=True,
    metavar="ALG[,ALG]",
    help="Accepted signature algorithms (default: $ELICENSE_ALGORITHMS, else ES256,EdDSA,PS256).",
)
"""``--allow-alg`` of every trust command (the bundle's own signatures are judged by it)."""


@trust_group.command("show")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--at", "at_", metavar="ISO-8601", help="Judge freshness at this time (default: now).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Message language.")
@_allow_alg_option
def show_cmd(bundle: Path, as_json: bool, at_: str | None, lang: str | None, allow_alg: tuple[str, ...] = ()) -> int:
    """Regions, authorities, licence types, validity and agreements of BUNDLE (fully re-verified)."""
    from elicense.trust.bundle import read_bundle_file

    lang = lang or default_lang()
    at = _now(at_)
    from elicense.trust.freshness import describe_part, earliest, human_time
    from elicense.trust_state import TrustedState

    b = read_bundle_file(bundle, deep=True, algorithms=_algorithms(allow_alg))
    loaded = TrustedState.inspect(b)  # the checks of every load (chains within their regions): show what would load
    doc = describe(b, at)
    dated = loaded.parts()  # every part's expiry: the first one decides (#20)
    first = earliest(dated)
    doc["parts"] = [{**p.to_dict(), "stale": at > p.next_update} for p in dated]
    doc["usable_until"] = _iso(first.next_update) if first else doc["next_update"]
    doc["stale"] = doc["stale"] or any(p["stale"] for p in doc["parts"])
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    zh = lang == "zh"
    lg = "zh" if zh else "en"
    stale = (" [已过期，需更新]" if zh else " [STALE]") if doc["stale"] else ""
    click.echo(
        f"{'信任数据包' if zh else 'trust bundle'} #{doc['sequence']}  {human_time(b.issued_at, lg)} → "
        f"{human_time(b.next_update, lg)}{stale}"
    )
    if first is not None:
        click.echo(
            f"  {'可用至' if zh else 'usable until'}: {human_time(first.next_update, lg)} "
            f"({'最早过期' if zh else 'first to expire'}: {describe_part(first, lg)})"
        )
    click.echo(f"  {'各部分的下次更新' if zh else 'next update of each part'}:")
    for p in dated:
        flag = (" [已过期]" if zh else " STALE") if at > p.next_update else ""
        click.echo(f"    {describe_part(p, lg):<48} {human_time(p.next_update, lg)}{flag}")
    click.echo(f"  {'签名者' if zh else 'signer'}: {doc['signer']}")
    click.echo(f"  {'根证书' if zh else 'roots'}: " + " → ".join(r["subject"] for r in doc["roots"]))
    for region in doc["regions"]:
        flag = " STALE" if region["stale"] else ""
        click.echo(
            f"\n{region['region']} {region['name']}  #{region['sequence']}  "
            f"{'下次更新' if zh else 'next update'} "
            f"{human_time(b.regions[region['region']].next_update, lg)}{flag}"
        )
        for a in region["authorities"]:
            state = a["history"][-1]["status"] if a["history"] else "?"
            click.echo(f"  {a['name']} ({a['code']}, {a['area_code']}) [{state}]")
            for t in a["licence_types"]:
                click.echo(f"    - {t['name_zh'] if zh else t['name_en'] or t['code']}  {t['code']}")
            for c in a["certificates"]:
                click.echo(
                    f"    {'证书' if zh else 'cert'} {c['serial'][:16]}  {c['not_before'][:10]} – {c['not_after'][:10]}"
                )
    click.echo(f"\n{'互认协议' if zh else 'recognition agreements'}:")
    for ag in doc["agreements"]:
        names = ", ".join((t["name_zh"] if zh else t["name_en"]) or t["code"] for t in ag["licence_types"])
        click.echo(f"  {ag['relying']} {'认可' if zh else 'accepts from'} {ag['issuing']}: {names or '-'}")
    return 0


@trust_group.command("export")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("outdir", type=click.Path(path_type=Path, file_okay=False))
@_allow_alg_option
def export_cmd(bundle: Path, outdir: Path, allow_alg: tuple[str, ...] = ()) -> int:
    """Write the signed XML lists (verifiable with xmlsec1) and the anchors to OUTDIR."""
    from elicense.crypto.keys import atomic_write
    from elicense.crypto.pki import to_pem
    from elicense.trust.bundle import read_bundle_file

    b = read_bundle_file(bundle, deep=True, algorithms=_algorithms(allow_alg))  # never export what does not verify
    b.trust_store()
    atomic_write(outdir / "national.xml", b.national_xml)
    for code, data in sorted(b.region_xml.items()):
        atomic_write(outdir / "regions" / f"{code}.xml", data)
    atomic_write(outdir / "root.pem", to_pem([b.current_root]))
    atomic_write(outdir / "intermediates.pem", to_pem(b.intermediates))
    click.echo(f"{outdir / 'national.xml'}")
    for code in sorted(b.region_xml):
        click.echo(f"{outdir / 'regions' / (code + '.xml')}")
    if b.signer.certificate.signature_algorithm_oid.dotted_string == "1.2.156.10197.1.501":
        click.echo("SM2/SM3 lists (specs/sm2.md): xmlsec1 has no SM2; check with `elicense trust show --allow-alg SM2`")
    else:
        click.echo(
            f"check: xmlsec1 --verify --trusted-pem {outdir / 'root.pem'} "
            f"--untrusted-pem {outdir / 'intermediates.pem'} {outdir / 'national.xml'}"
        )
    return 0


@trust_group.command("update")
@click.argument("current", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--state",
    "state_dir",
    metavar="DIR",
    default=None,
    help="Verifier state directory (default: $ELICENSE_STATE): refuses bundles older than seen "
    "or not under its pinned root.",
)
@_allow_alg_option
def update_cmd(current: Path, new: Path, state_dir: str | None, allow_alg: tuple[str, ...] = ()) -> int:
    """Replace CURRENT by NEW only if NEW is authentic under CURRENT's root and newer."""
    from elicense.trust_state import TrustedState

    if not current.exists():
        raise UsageError(
            f"{current} does not exist: install the first bundle by copying it",
            message_zh=f"{current} 不存在：首次安装请直接复制信任数据包",
        )
    zh = default_lang() == "zh"
    if _same_file_content(current, new):  # a daily cron copying the same bundle again: nothing to do, not an error
        from elicense.trust.bundle import read_bundle_file

        b = read_bundle_file(current, algorithms=_algorithms(allow_alg))
        click.echo(
            f"{current} 已是最新：信任数据包 #{b.sequence}"
            if zh
            else f"already current: {current} is bundle #{b.sequence}"
        )
        return 0
    b = TrustedState.update_file(current, new, state=state_dir, algorithms=_algorithms(allow_alg))
    click.echo(
        f"已更新 {current}：信任数据包 #{b.sequence}，下次更新 {_iso(b.next_update)}"
        if zh
        else f"updated {current}: bundle #{b.sequence}, next update {_iso(b.next_update)}"
    )
    return 0


@trust_group.command("pin")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--state",
    "state_dir",
    metavar="DIR",
    default=None,
    help="Verifier state directory (default: $ELICENSE_STATE, else the kiosk's default for BUNDLE's path).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_allow_alg_option
def pin_cmd(bundle: Path, state_dir: str | None, as_json: bool, allow_alg: tuple[str, ...] = ()) -> int:
    """Trust BUNDLE's root from now on: an operator's explicit re-pin (e.g. after a national root change).

    BUNDLE is fully verified first. The state then pins its current root and its sequence
    (replacing the previous pin, which is printed); status-list memory is kept.
    """
    from elicense.crypto.pki import common_name_of
    from elicense.status.state import fingerprint
    from elicense.trust.bundle import read_bundle_file
    from elicense.trust_state import TrustedState

    b = read_bundle_file(bundle, deep=True, algorithms=_algorithms(allow_alg))
    directory, previous = TrustedState.pin(b, bundle, state_dir)
    pinned = fingerprint(b.current_root)
    doc = {
        "state": str(directory),
        "root": common_name_of(b.current_root),
        "anchors": [pinned],
        "previous": list(previous),
        "sequence": b.sequence,
    }
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    click.echo(f"pinned root {doc['root']} (sha256 {pinned}) at bundle #{b.sequence} in {directory}")
    if previous and tuple(previous) != (pinned,):
        click.echo(f"  replaces: {', '.join(previous)} (restart a running kiosk to use the new root)")
    return 0


def _same_file_content(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes (bounded: a bundle is at most a few MB)."""
    from elicense.trust.bundle import MAX_BUNDLE_BYTES

    try:
        if a.stat().st_size != b.stat().st_size or a.stat().st_size > MAX_BUNDLE_BYTES:
            return False
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


@click.command("bundle")
@click.option(
    "--home",
    "home_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Issuer home with trust-list operator keys.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bundle file to write (trust-bundle.cose).",
)
@click.option(
    "--validity-days", type=click.IntRange(1, 366), default=30, show_default=True, help="Days until next update."
)
@click.option("--at", "at_", metavar="ISO-8601", help="Issue time (default: now).")
@click.option("--no-status", is_flag=True, help="Do not include fresh status lists and CRLs.")
@click.option(
    "--publish-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write the CA certificates and CRLs served under the home's publication base URL.",
)
@click.option(
    "--seal-makers",
    "seal_makers",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Seal-making systems every relying party accepts (JSON, specs/seal.md §4): signed into the "
    "bundle as its seal_makers section.",
)
def bundle_cmd(
    home_dir: Path,
    output: Path,
    validity_days: int,
    at_: str | None,
    no_status: bool,
    publish_dir: Path | None = None,
    seal_makers: Path | None = None,
) -> int:
    """Sign fresh trust lists and publish an offline bundle from an issuer home."""
    from elicense.crypto.keys import atomic_write
    from elicense.home import Home
    from elicense.services.trust import publish

    home = Home.load(home_dir)
    now = _now(at_)
    extras = {} if no_status else status_extras(home, now)
    if seal_makers is not None:  # validated before anything is signed; travels signed with the bundle
        from elicense.seal.trustlist import SECTION, dump_policy, load_policy

        extras[SECTION] = dump_policy(load_policy(seal_makers)).encode("utf-8")
    _, _, data = publish(home, now=now, validity=dt.timedelta(days=validity_days), extras=extras)
    atomic_write(output, data)
    click.echo(f"{output} ({len(data)} bytes)")
    if publish_dir is not None:
        from elicense.services.trust import publication_files

        files = publication_files(home, now)
        for rel, content in sorted(files.items()):
            atomic_write(publish_dir / rel, content)
        click.echo(f"{publish_dir}: {len(files)} files for {home.publication_base()}")
    return 0


def status_extras(home: Home, now: dt.datetime) -> dict[str, bytes]:
    """The status issue's section (status lists + CRLs) as a bundle extra, when that feature is present."""
    try:
        from elicense.services.status import status_sections
        from elicense.status.section import to_section
    except ImportError:  # pragma: no cover - status feature not installed
        return {}
    from elicense.trust.bundle import STATUS_SECTION

    sections = status_sections(home, now)
    section = to_section(sections.status_lists, sections.crls)
    return {STATUS_SECTION: json.dumps(section, ensure_ascii=False).encode("utf-8")}
