"""``elicense seal …``: electronic seals and seal signatures made by any system (GB/T 38540, GM/T 0031, GB/T 35275).

``elicense seal inspect FILE…`` reports what a ``.esl`` seal, an OFD ``SignedValue.dat``, any
DER seal structure — or each of them inside an ``.ofd`` package — is: version, producer, seal
name and type, validity, picture, certificates, which bytes each signature covers and whether
it verifies over them, and every deviation from the standard. Exit codes: 0 every signature verifies, 1 one does not,
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
    """Describe seals (.esl), SES signatures (SignedValue.dat), GB/T 35275 SignedData (DER), or every one
    inside an OFD package."""
    from elicense.errors import ElicenseError, InputError
    from elicense.seal.inspect import MAX_INSPECT_BYTES, inspect_bytes, ofd_members, render_text, signatures_ok

    code = 0
    out: list[dict[str, object]] = []
    for path in files:
        try:
            try:
                with path.open("rb") as fh:
                    data = fh.read(MAX_INSPECT_BYTES + 1)
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}", message_zh=f"无法读取 {path}") from exc
            # an OFD package: each seal and signature inside it
            blobs = ofd_members(path) if data[:4] == b"PK\x03\x04" else [("", data)]
        except ElicenseError as exc:
            code = 3
            out.append({"input": str(path), "error": exc.code, "message": exc.localized(lang)})
            continue
        for member, blob in blobs:
            name = f"{path}!{member}" if member else str(path)
            try:
                report = inspect_bytes(blob)
            except ElicenseError as exc:
                code = 3
                out.append({"input": name, "error": exc.code, "message": exc.localized(lang)})
                continue
            if not signatures_ok(report) and code == 0:
                code = 1
            out.append({"input": name, **report})
    if as_json:
        click.echo(json.dumps(out if len(out) != 1 else out[0], ensure_ascii=False, indent=1))
    else:
        for item in out:
            if "error" in item:
                click.echo(f"elicense: error: {item['input']}: {item['message']}", err=True)
                continue
            click.echo(f"== {item['input']}")
            click.echo(render_text(item, lang))
    sys.stdout.flush()
    return code


def _read(path: Path, limit: int) -> bytes:
    from elicense.errors import InputError

    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", message_zh=f"无法读取 {path}") from exc
    if len(data) > limit:
        raise InputError(f"{path} is too large", message_zh=f"{path} 过大")
    return data


def _cert_file(path: Path) -> bytes:
    import base64
    import binascii

    from elicense.errors import InputError
    from elicense.seal.certs import load_cert

    raw = _read(path, 256 * 1024)
    if b"-----BEGIN" in raw:
        body = b"".join(x for x in raw.splitlines() if x and not x.startswith(b"-----"))
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise InputError(f"{path}: bad PEM", message_zh=f"{path}：PEM 格式错误") from exc
    load_cert(raw)
    return raw


@seal_group.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--content",
    "content_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="What was signed (an OFD's Signature.xml): its SM3 is compared with dataHash/messageDigest.",
)
@click.option("--data-hash", "data_hash_hex", default=None, help="The expected dataHash (hex), instead of --content.")
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="SM2 trust anchor for signers (PEM or DER); repeatable.",
)
@click.option(
    "--seal-makers",
    "makers_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Accepted seal-making systems (JSON, see specs/seal.md); default $ELICENSE_SEAL_MAKERS.",
)
@click.option("--no-revocation", is_flag=True, help="Do not require revocation data (CRLs).")
@click.option("--at", "at_text", default=None, help="Verification time (ISO-8601 with offset).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
def verify_cmd(files: tuple[Path, ...], content_path: Path | None, data_hash_hex: str | None, roots: tuple[Path, ...],
               makers_path: Path | None, no_revocation: bool, at_text: str | None, as_json: bool,
               lang: str) -> int:  # fmt: skip
    """Verify seals (.esl), SES signatures (SignedValue.dat) and GB/T 35275 SignedData in the GB/T 38540 order."""
    import datetime as dt
    import os

    from elicense.cli.verify import parse_at
    from elicense.crypto.sm2 import sm3
    from elicense.errors import ElicenseError, UsageError
    from elicense.seal.ses import MAX_SES_BYTES, SesTrust, kind_of
    from elicense.seal.signeddata import verify_signed_data
    from elicense.seal.trustlist import load_policy
    from elicense.seal.verify import verify_seal, verify_ses

    if content_path is not None and data_hash_hex is not None:
        raise UsageError("give --content or --data-hash, not both", message_zh="--content 与 --data-hash 只能二选一")
    content = None if content_path is None else _read(content_path, 64 * 1024 * 1024)
    try:
        data_hash = bytes.fromhex(data_hash_hex) if data_hash_hex is not None else None
    except ValueError as exc:
        raise UsageError("--data-hash must be hex", message_zh="--data-hash 必须是十六进制") from exc
    if content is not None:
        data_hash = sm3(content)
    env = os.environ.get("ELICENSE_SEAL_MAKERS")
    source = makers_path if makers_path is not None else (Path(env) if env else None)
    policy = load_policy(source) if source is not None else None
    trust = SesTrust(
        roots=(*(_cert_file(p) for p in roots), *(policy.signer_roots if policy else ())),
        seal_makers=policy.seal_makers if policy else (), require_revocation=not no_revocation,
        tsa_roots=policy.tsa_roots if policy else (),
    )  # fmt: skip
    at = parse_at(at_text) or dt.datetime.now(dt.UTC)
    code = 0
    out: list[dict[str, object]] = []
    for path in files:
        try:
            data = _read(path, MAX_SES_BYTES)
            kind = kind_of(data)
            if kind == "seal":
                result = verify_seal(data, trust=trust, at=at).result
            elif kind == "signed_data":
                result = verify_signed_data(data, content=content, trust=trust, at=at).result
            else:
                result = verify_ses(data, data_hash=data_hash, trust=trust, at=at).result
        except ElicenseError as exc:
            code = max(code, 3)
            out.append({"input": str(path), "error": exc.code, "message": exc.localized(lang)})
            continue
        code = max(code, result.status.exit_code)
        out.append({"input": str(path), **result.to_dict(lang)})
    if as_json:
        click.echo(json.dumps(out if len(out) != 1 else out[0], ensure_ascii=False, indent=1))
    else:
        for item in out:
            if "error" in item:
                click.echo(f"elicense: error: {item['input']}: {item['message']}", err=True)
                continue
            reasons = "; ".join(str(x["message"]) for x in item["reasons"])  # type: ignore[attr-defined]
            checks: list[dict[str, str]] = item["checks"]  # type: ignore[assignment]
            warn = len([c for c in checks if c["outcome"] == "WARNING"])
            extra = f" ({warn} deviation(s))" if warn else ""
            tail = f" — {reasons}" if reasons else ""
            click.echo(f"{item['input']}: {item['kind']} {item['status']}{extra}{tail}")
    sys.stdout.flush()
    return code
