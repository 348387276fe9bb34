"""GB/T 38540 seals of an SM2 issuer home: make each authority's ``SES_Seal``, seal licence files.

An SM2 home (``elicense demo --alg sm2``) gets, per region, a seal-making system
certificate under the regional CA and, per authority, an ``SES_Seal`` (v4) whose
cert list holds the authority's signing certificate and whose picture is the seal
image of the PDF issue. ``home.json`` records them in its ``sm2_seals`` section::

    "sm2_seals": {"makers": {REGION: {"cert": ..., "key": ...}}, "seals": {USCC: "seals/<slug>.seal.der"}}

:func:`seal_file` then signs any file (a licence ``.qr.txt``, a PDF) with a detached
``SES_Signature`` written beside it as ``FILE.ses``, embedding fresh SM2 CRLs of the
regional CA and the root as revocation evidence (the way OFD signatures reference
their document); ``elicense verify FILE.ses --allow-alg SM2`` verifies it.

A home-level service: above :mod:`elicense.home` (keys, CRLs, ``home.json``) and
:mod:`elicense.seal` (the GB/T 38540 format, which takes explicit keys and certificates).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.x509.oid import ObjectIdentifier
from PIL import Image

from elicense.crypto import sm2
from elicense.crypto.keys import Sm2Signer, atomic_write
from elicense.crypto.suites import load_key, write_key
from elicense.errors import UsageError
from elicense.home import SEALS_SECTION, AuthorityEntry, Home, write_pem
from elicense.seal import SealSpec, render_seal_png
from elicense.seal.ses import OID_EKU_SEAL_MAKING, make_seal, sign_document
from elicense.seal.verify import MAX_DOCUMENT_BYTES

if TYPE_CHECKING:
    from collections.abc import Callable

    from cryptography import x509

SECTION = SEALS_SECTION
YEAR = dt.timedelta(days=365)


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (218, 37, 29, 255)).save(buf, format="PNG")
    return buf.getvalue()


def add_sm2_seals(
    home: Home, *, now: dt.datetime, images: bool = True, keys: Callable[[str], sm2.Sm2PrivateKey] | None = None
) -> Home:
    """Seal makers per region and one ``SES_Seal`` per authority; saves the home.

    ``keys(label)``: deterministic SM2 keys (the seeded demo); default fresh ones.
    """
    pw = home.passphrase()
    new_key = keys or (lambda label: sm2.Sm2PrivateKey.generate())
    makers: dict[str, dict[str, str]] = {}
    maker_keys: dict[str, tuple[sm2.Sm2PrivateKey, x509.Certificate]] = {}
    for region in home.regions:
        if region.ca_key is None:
            raise UsageError(f"region {region.code} has no CA key in {home.path}")
        ca_cert = home.certificates(region.ca_cert)[0]
        if not sm2.is_sm2_certificate(ca_cert):
            raise UsageError("GB/T 38540 seals need an SM2 home (elicense demo --alg sm2)",
                             message_zh="电子印章需要 SM2 签发目录")  # fmt: skip
        ca_key = load_key((home.path / region.ca_key).read_bytes(), pw, ca_cert)
        assert isinstance(ca_key, sm2.Sm2PrivateKey)
        key = new_key(f"seal-maker-{region.code}")
        cert = sm2.make_sm2_end_entity(
            key.public_key(), f"{region.name}电子印章制作系统", uscc=None, province=region.name,
            issuer_cert=ca_cert, issuer_key=ca_key, not_before=ca_cert.not_valid_before_utc,
            not_after=min(now + 10 * YEAR, ca_cert.not_valid_after_utc), eku=ObjectIdentifier(OID_EKU_SEAL_MAKING),
            publication_base=home.publication_base(),
        )  # fmt: skip
        rel_cert, rel_key = f"pki/seal-maker-{region.code}.pem", f"keys/seal-maker-{region.code}.key.pem"
        write_pem(home.path / rel_cert, [cert])
        write_key(home.path / rel_key, key, pw)
        makers[region.code] = {"cert": rel_cert, "key": rel_key}
        maker_keys[region.code] = (key, cert)
    seals: dict[str, str] = {}
    for entry in home.authorities:
        auth_cert = home.certificates(entry.cert)[0]
        maker_key, maker_cert = maker_keys[entry.region]
        slug = Path(entry.cert).stem
        digits = "".join(c for c in entry.code if c.isdigit())[-13:]
        spec = SealSpec(authority_name=entry.name, seal_name=entry.seal_name, seal_code=digits, dpi=150)
        picture = render_seal_png(spec) if images else _tiny_png()
        der = make_seal(
            es_id=(entry.area_code + entry.code)[:32], name=f"{entry.name}{entry.seal_name}",
            certificates=[auth_cert], picture_png=picture, width_mm=42, height_mm=42,
            valid_start=auth_cert.not_valid_before_utc, valid_end=auth_cert.not_valid_after_utc,
            maker_cert=maker_cert, maker_key=maker_key, created=auth_cert.not_valid_before_utc,
        )  # fmt: skip
        rel = f"seals/{slug}.seal.der"
        atomic_write(home.path / rel, der)
        seals[entry.code] = rel
    new = replace(home, extra={**home.extra, SECTION: {"makers": makers, "seals": seals}})
    new.save()
    return new


def seal_file(home: Home, entry: AuthorityEntry, path: Path, *, at: dt.datetime) -> Path:
    """Write ``PATH.ses``: a detached ``SES_Signature`` over the file's bytes with the authority's seal."""
    section = home.extra.get(SECTION)
    rel = section.get("seals", {}).get(entry.code) if isinstance(section, dict) else None
    if not rel:
        raise UsageError(f"{entry.name} has no GB/T 38540 seal in {home.path} (an SM2 home: elicense demo --alg sm2)",
                         message_zh=f"{entry.name} 没有电子印章")  # fmt: skip
    signer = home.signer(entry)
    if not isinstance(signer, Sm2Signer):
        raise UsageError(f"{entry.name} does not sign with SM2", message_zh=f"{entry.name} 不是 SM2 签名密钥")
    try:
        with path.open("rb") as fh:
            document = fh.read(MAX_DOCUMENT_BYTES + 1)
        seal = (home.path / rel).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    if len(document) > MAX_DOCUMENT_BYTES:
        raise UsageError(f"{path} is too large to seal")
    der = sign_document(document, seal=seal, signer_cert=signer.certificate, signer_key=signer.private_key, at=at,
                        property_info=path.name, crls=home.entry_crls(entry, at))  # fmt: skip
    out = path.with_name(path.name + ".ses")
    atomic_write(out, der)
    return out
