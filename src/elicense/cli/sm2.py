"""``elicense sm2 …``: an all-SM2/SM3 world (PKI, licence, GB/T 38540 seal) and its verifier.

``elicense sm2 demo OUT`` issues a licence QR payload signed with SM2 and a
detached SES_Signature over it; ``elicense sm2 verify FILE…`` is a shortcut for
``elicense verify --allow-alg ES256,EdDSA,PS256,SM2`` (SM2 is off by default).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from elicense.home import Home
    from elicense.issue import IssuedLicence

YEAR = dt.timedelta(days=365)
SM2_ALGORITHMS = ("ES256", "EdDSA", "PS256", "SM2")


@dataclass(frozen=True)
class Sm2Demo:
    """What :func:`build_sm2_demo` wrote."""

    trust_file: Path
    """Trust file with the SM2 root, regional CA and the authority."""
    payload_file: Path
    """The ``EL2:`` payload (``….qr.txt``)."""
    seal_file: Path
    """The GB/T 38540 seal (``….seal.der``)."""
    signature_file: Path
    """The detached SES_Signature over the payload file (``….qr.txt.ses``)."""
    issued: IssuedLicence
    """The signed licence."""


def build_sm2_demo(outdir: Path, *, now: dt.datetime, images: bool = True) -> Sm2Demo:
    """SM2 root → SM2 regional CA → authority + seal maker; one licence, its seal and SES signature."""
    from cryptography.x509.oid import ObjectIdentifier

    from elicense.catalog import Catalog
    from elicense.crypto import sm2
    from elicense.crypto.keys import Sm2Signer, atomic_write
    from elicense.identifiers import USCC
    from elicense.issue import LicenceBuilder, sign_licence
    from elicense.model import Authority, Holder, HolderType
    from elicense.seal import SealSpec, render_seal_png
    from elicense.seal.ses import OID_EKU_SEAL_MAKING, make_seal, sign_document
    from elicense.trust.file import dump_trust_file
    from elicense.trust.store import TrustedAuthority

    catalog = Catalog.default()
    outdir.mkdir(parents=True, exist_ok=True)
    start = now - 3 * YEAR
    root_key = sm2.Sm2PrivateKey.generate()
    root = sm2.make_sm2_root(root_key, "国家电子证照信任根（SM2 演示）", not_before=start, not_after=now + 20 * YEAR)
    ca_key = sm2.Sm2PrivateKey.generate()
    ca = sm2.make_sm2_regional_ca(
        ca_key, "山东省电子证照签发CA（SM2 演示）", province="山东省", issuer_cert=root, issuer_key=root_key,
        not_before=start, not_after=now + 10 * YEAR,
    )  # fmt: skip
    uscc = str(USCC.build("11", "370100", "MB285719"))
    name = "济南市行政审批服务局"
    auth_key = sm2.Sm2PrivateKey.generate()
    auth_cert = sm2.make_sm2_end_entity(
        auth_key.public_key(), name, uscc=uscc, province="山东省", issuer_cert=ca, issuer_key=ca_key,
        not_before=start, not_after=now + 5 * YEAR,
    )  # fmt: skip
    maker_key = sm2.Sm2PrivateKey.generate()
    maker_cert = sm2.make_sm2_end_entity(
        maker_key.public_key(), "山东省电子印章制作系统（SM2 演示）", uscc=None, province="山东省",
        issuer_cert=ca, issuer_key=ca_key, not_before=start, not_after=now + 10 * YEAR,
        eku=ObjectIdentifier(OID_EKU_SEAL_MAKING),
    )  # fmt: skip
    types = frozenset({catalog.get("business-licence").code})
    authority = TrustedAuthority(name, uscc, "370100", types)
    atomic_write(
        outdir / "trust-bundle.json",
        dump_trust_file(
            roots=[root], intermediates=[ca], authorities=[(authority, [auth_cert])],
            issued_at=now, next_update=now + 30 * dt.timedelta(days=1),
        ),
    )  # fmt: skip
    signer = Sm2Signer(auth_key, auth_cert, (ca,))
    signed_at = now - dt.timedelta(days=30)
    licence = (
        LicenceBuilder()
        .licence_type("business-licence", catalog)
        .serial("370100000765432")
        .holder(Holder("山东泉城国密科技有限公司", str(USCC.build("91", "370102", "MA3C9P4Q")), HolderType.USCC))
        .issuer(Authority(name, uscc, "370100"))
        .issued_on(signed_at.date())
        .validity(signed_at.date(), None)
        .fields({"entity_type": "有限责任公司", "legal_representative": "李珺", "registered_capital": "300.00",
                 "capital_currency": "人民币", "establishment_date": "2022-09-01",
                 "domicile": "山东省济南市历下区泺源大街 8 号", "business_scope": "密码技术服务；软件开发。"})
        .status_index(4242)
        .build()
    )  # fmt: skip
    issued = sign_licence(licence, signer, at=signed_at, catalog=catalog)
    lic_dir = outdir / "licences"
    payload_file = lic_dir / "business-licence-sm2.qr.txt"
    payload = (issued.qr_payload + "\n").encode("ascii")
    atomic_write(payload_file, payload)
    atomic_write(lic_dir / "business-licence-sm2.cose", issued.full_payload)
    spec = SealSpec(authority_name=name, seal_name="行政审批专用章", seal_code="3701000012345", dpi=150)
    picture = render_seal_png(spec) if images else _tiny_png()
    seal = make_seal(
        es_id="37010000123456", name=f"{name}行政审批专用章", certificates=[auth_cert], picture_png=picture,
        width_mm=42, height_mm=42, valid_start=start, valid_end=now + 5 * YEAR,
        maker_cert=maker_cert, maker_key=maker_key, created=start,
    )  # fmt: skip
    seal_file = lic_dir / "business-licence-sm2.seal.der"
    atomic_write(seal_file, seal)
    day = dt.timedelta(days=1)
    crls = [  # revocation evidence at signing time, embedded in the signature
        sm2.make_sm2_crl(ca, ca_key, this_update=signed_at - day, next_update=signed_at + 7 * day),
        sm2.make_sm2_crl(root, root_key, this_update=signed_at - day, next_update=signed_at + 90 * day),
    ]
    signature = sign_document(
        payload, seal=seal, signer_cert=auth_cert, signer_key=auth_key, at=signed_at,
        property_info=payload_file.name, crls=crls,
    )  # fmt: skip
    signature_file = lic_dir / (payload_file.name + ".ses")
    atomic_write(signature_file, signature)
    return Sm2Demo(outdir / "trust-bundle.json", payload_file, seal_file, signature_file, issued)


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (218, 37, 29, 255)).save(buf, format="PNG")
    return buf.getvalue()


@click.group("sm2")
def sm2_group() -> None:
    """National algorithms (SM2/SM3, GB/T 38540 seals) — 国密算法与电子签章."""


@sm2_group.command("demo")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
@click.option("--at", "at_text", default=None, help="Build time (ISO-8601 with offset); default now.")
def demo_cmd(outdir: Path, force: bool, at_text: str | None) -> int:
    """Issue an SM2-signed licence and a GB/T 38540 seal signature over it."""
    from elicense.errors import UsageError

    if outdir.exists() and any(outdir.iterdir()) and not force:
        raise UsageError(f"{outdir} is not empty (use --force)", message_zh=f"{outdir} 非空（可加 --force）")
    now = _parse_at(at_text) or dt.datetime.now(dt.UTC).replace(microsecond=0)
    demo = build_sm2_demo(outdir, now=now)
    click.echo(f"trust file : {demo.trust_file}")
    click.echo(f"licence    : {demo.payload_file}")
    click.echo(f"seal       : {demo.seal_file}")
    click.echo(f"signature  : {demo.signature_file}")
    click.echo(f"verify with: elicense sm2 verify {demo.payload_file} {demo.signature_file} --trust {demo.trust_file}")
    return 0


@sm2_group.command("seal")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--home",
    "home_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="SM2 issuer home (elicense demo --alg sm2).",
)
@click.option(
    "--authority",
    "authority_code",
    default=None,
    help="Sealing authority (USCC or name; default: the issuer named in a licence file).",
)
@click.option("--at", "at_text", default=None, help="Signing time (ISO-8601 with offset); default now.")
def seal_cmd(files: tuple[Path, ...], home_dir: Path, authority_code: str | None, at_text: str | None) -> int:
    """Seal FILES (licence payloads, PDFs) with a detached GB/T 38540 SES_Signature: FILE.ses beside each."""
    from elicense.errors import UsageError
    from elicense.home import Home
    from elicense.services.seals import seal_file

    home = Home.load(home_dir)
    at = _parse_at(at_text) or dt.datetime.now(dt.UTC).replace(microsecond=0)
    for path in files:
        code = authority_code or _issuer_of(path, home)
        if code is None:
            raise UsageError(f"{path}: not a licence payload; name the sealing authority with --authority",
                             message_zh=f"{path}：不是证照载荷，请用 --authority 指定用章单位")  # fmt: skip
        click.echo(str(seal_file(home, home.authority(code), path, at=at)))
    return 0


def _issuer_of(path: Path, home: Home) -> str | None:
    """The home's authority whose key signed an ``EL2:`` payload file (by kid; only picks the seal)."""
    from elicense.crypto.keys import key_id
    from elicense.errors import ElicenseError
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap

    try:
        with path.open("rb") as fh:
            text = fh.read(64 * 1024).decode("ascii").strip()
        kid = parse_sign1(unwrap(text)).kid if text.startswith("EL2:") else None
    except (ElicenseError, UnicodeDecodeError, OSError):
        return None
    for entry in home.authorities:
        if kid is not None and key_id(home.certificates(entry.cert)[0]) == kid:
            return str(entry.code)
    return None


def _parse_at(value: str | None) -> dt.datetime | None:
    from elicense.cli.verify import parse_at

    return parse_at(value)


@sm2_group.command("verify")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--trust", "trust", default=None, help="Trust file (or $ELICENSE_TRUST).")
@click.option("--at", "at_text", default=None, help="Verification time (ISO-8601 with offset).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
def verify_cmd(inputs: tuple[str, ...], trust: str | None, at_text: str | None, as_json: bool, lang: str) -> int:
    """Verify payloads, images, PDFs or SES signatures with SM2 allowed."""
    from elicense.cli.verify import load_verifier, read_verify_input
    from elicense.crypto.algorithms import AlgorithmPolicy
    from elicense.errors import ElicenseError
    from elicense.verify.inputs import verify_bytes

    base = load_verifier(trust, algorithms=AlgorithmPolicy.of(SM2_ALGORITHMS))  # = verify --allow-alg …,SM2
    at = _parse_at(at_text)
    code = 0
    out: list[dict[str, object]] = []
    for name in inputs:
        try:
            results = verify_bytes(base, read_verify_input(name), at=at, source=None if name == "-" else Path(name))
        except ElicenseError as exc:
            code = max(code, 3)
            out.append({"input": name, "error": exc.code, "message": exc.localized(lang)})
            continue
        for res in results:
            code = max(code, res.status.exit_code)
            out.append({"input": name, **res.to_dict(lang)})
    if as_json:
        click.echo(json.dumps(out if len(out) != 1 else out[0], ensure_ascii=False, indent=1))
    else:
        for item in out:
            if "error" in item:
                click.echo(f"{item['input']}: error: {item['message']}", err=True)
                continue
            reasons = "; ".join(str(x["message"]) for x in item["reasons"])  # type: ignore[attr-defined]
            click.echo(f"{item['input']}: {item['kind']} {item['status']}" + (f" — {reasons}" if reasons else ""))
    sys.stdout.flush()
    return code
