"""Shared helpers for the seal interop tests: where the real-world corpus and ofdrw are, and the test PKI."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


@cache
def shared_dir() -> Path | None:
    """``shared/`` beside the clone (CI: ``../shared``); in a worktree, the nearest ancestor that has one."""
    for base in (REPO.parent, *REPO.parents):
        candidate = base / "shared"
        if (candidate / "corpus" / "ofd-ses" / "EXPECTED.md").is_file():
            return candidate
    return None


def corpus() -> Path:
    """The OFD/SES development corpus, or skip with the reason."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("real-world seal corpus not found: expected ../shared/corpus/ofd-ses beside the repository")
    return shared / "corpus" / "ofd-ses"


def ofdrw() -> Path:
    """The ofdrw reference CLI, or skip with the reason (no corpus checkout, or no java)."""
    shared = shared_dir()
    tool = None if shared is None else shared / "tools" / "ofdrw" / "ofdrw"
    if tool is None or not tool.is_file():
        pytest.skip("ofdrw reference CLI not found: expected ../shared/tools/ofdrw/ofdrw")
    if shutil.which("java") is None:
        pytest.skip("java is not installed: ofdrw (the reference implementation) cannot run")
    return tool


def run_ofdrw(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ofdrw with a time limit."""
    return subprocess.run([str(ofdrw()), *args], capture_output=True, text=True, timeout=300, check=False)


def ofd_signatures(path: Path) -> list[tuple[str, bytes, bytes]]:
    """(SignedValue.dat name, its bytes, the sibling Signature.xml bytes) of an OFD (zip)."""
    out = []
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            if name.endswith("/SignedValue.dat"):
                out.append((name, z.read(name), z.read(name.replace("SignedValue.dat", "Signature.xml"))))
    return out


@cache
def p12_cert(name: str, password: str) -> bytes:
    """DER certificate out of one of ofdrw's legacy (RC2-40) PKCS#12 test files, via the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed (needed to open ofdrw's legacy PKCS#12 test files)")
    proc = subprocess.run(
        ["openssl", "pkcs12", "-legacy", "-in", str(corpus() / "certs" / name), "-passin", f"pass:{password}",
         "-nokeys", "-clcerts"], capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"openssl cannot open {name} (no legacy provider?): {proc.stderr[:200]!r}")
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=proc.stdout, capture_output=True,
                         timeout=60, check=True).stdout  # fmt: skip
    return der


def root_cert() -> bytes:
    """ofdrw's test ROOT (anchor of every ofdrw test certificate)."""
    return p12_cert("gm__ROOT.p12", "123456")


def gm_verify(cert_der: bytes, signature: bytes, data: bytes, uid: bytes = b"1234567812345678") -> bool:
    """Independent SM2 check with gmalglib (C implementation), key taken from the certificate."""
    gmalglib = pytest.importorskip("gmalglib")
    from asn1crypto import x509 as a509

    from elicense.crypto.sm2 import der_to_raw

    point = bytes(a509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]["public_key"].native)
    raw = signature if len(signature) == 64 else der_to_raw(signature)
    return bool(gmalglib.sm2.SM2(pk=point, uid=uid).verify(data, raw))


@dataclass(frozen=True)
class Pki:
    """An SM2 test PKI: root → CA → signer and seal maker, with CRLs."""

    root: Any
    root_key: Any
    ca: Any
    ca_key: Any
    signer: Any
    signer_key: Any
    maker: Any
    maker_key: Any
    crls: tuple[bytes, ...]


NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
SIGNED = NOW - dt.timedelta(days=10)
YEAR = dt.timedelta(days=365)


@cache
def pki() -> Pki:
    """Build once per process."""
    from cryptography.x509.oid import ObjectIdentifier

    from elicense.crypto import sm2
    from elicense.seal import ses

    root_key, ca_key, signer_key, maker_key = (sm2.Sm2PrivateKey.generate() for _ in range(4))
    root = sm2.make_sm2_root(root_key, "互认测试根", not_before=NOW - 3 * YEAR, not_after=NOW + 10 * YEAR)
    ca = sm2.make_sm2_regional_ca(
        ca_key, "互认测试 CA", province="浙江省", issuer_cert=root, issuer_key=root_key,
        not_before=NOW - 3 * YEAR, not_after=NOW + 5 * YEAR,
    )  # fmt: skip
    signer = sm2.make_sm2_end_entity(
        signer_key.public_key(), "杭州市行政审批服务局", uscc=None, province="浙江省", issuer_cert=ca,
        issuer_key=ca_key, not_before=NOW - YEAR, not_after=NOW + YEAR,
    )  # fmt: skip
    maker = sm2.make_sm2_end_entity(
        maker_key.public_key(), "浙江省电子印章制作系统", uscc=None, province="浙江省", issuer_cert=ca,
        issuer_key=ca_key, not_before=NOW - 2 * YEAR, not_after=NOW + 2 * YEAR,
        eku=ObjectIdentifier(ses.OID_EKU_SEAL_MAKING),
    )  # fmt: skip
    day = dt.timedelta(days=1)
    crls = (
        sm2.make_sm2_crl(ca, ca_key, this_update=SIGNED - day, next_update=SIGNED + 7 * day),
        sm2.make_sm2_crl(root, root_key, this_update=SIGNED - day, next_update=SIGNED + 90 * day),
    )
    return Pki(root, root_key, ca, ca_key, signer, signer_key, maker, maker_key, crls)


def make_time_stamp(stamped: bytes, tsa_cert: Any, tsa_key: Any, at: dt.datetime, *,
                    imprint: bytes | None = None) -> bytes:  # fmt: skip
    """A TimeStampToken (RFC 3161 layout, SM3 + SM2) over ``stamped``, as a TSA makes it (test TSA)."""
    from asn1crypto import core
    from asn1crypto import x509 as a509

    from elicense.crypto import sm2
    from elicense.seal import der as d
    from elicense.seal import ses

    def seq(*parts: bytes) -> bytes:
        return d.sequence(b"".join(parts))

    def tagged(tag: int, inner: bytes) -> bytes:
        return d.header(tag, len(inner)) + inner

    sm3_alg = seq(ses.der_oid(ses.OID_SM3), b"\x05\x00")
    tst = seq(ses.der_int(1), ses.der_oid("1.2.156.112562.1.1"), seq(sm3_alg, ses.der_octets(imprint or sm2.sm3(stamped))),
              ses.der_int(4242), core.GeneralizedTime(at).dump())  # fmt: skip
    attrs = (seq(ses.der_oid("1.2.840.113549.1.9.3"), tagged(d.SET, ses.der_oid("1.2.840.113549.1.9.16.1.4")))
             + seq(ses.der_oid("1.2.840.113549.1.9.4"), tagged(d.SET, ses.der_octets(sm2.sm3(tst)))))  # fmt: skip
    signature = tsa_key.sign(tagged(d.SET, attrs))
    cert_der = sm2.certificate_der(tsa_cert)
    tbs = a509.Certificate.load(cert_der)["tbs_certificate"]
    signer_info = seq(ses.der_int(1), seq(tbs["issuer"].dump(), tbs["serial_number"].dump()), sm3_alg,
                      tagged(d.CONTEXT_0, attrs), seq(ses.der_oid(ses.OID_SM2_SIGN)), ses.der_octets(signature))  # fmt: skip
    signed_data = seq(ses.der_int(3), tagged(d.SET, sm3_alg),
                      seq(ses.der_oid("1.2.840.113549.1.9.16.1.4"), tagged(d.CONTEXT_0, ses.der_octets(tst))),
                      tagged(d.CONTEXT_0, cert_der), tagged(d.SET, signer_info))  # fmt: skip
    return seq(ses.der_oid("1.2.840.113549.1.7.2"), tagged(d.CONTEXT_0, signed_data))


@cache
def tsa() -> tuple[Any, Any]:
    """A time-stamp authority under the test PKI's CA (timeStamping EKU)."""
    from cryptography.x509.oid import ObjectIdentifier

    from elicense.crypto import sm2

    p = pki()
    key = sm2.Sm2PrivateKey.generate()
    cert = sm2.make_sm2_end_entity(key.public_key(), "测试时间戳服务", uscc=None, province="浙江省", issuer_cert=p.ca,
                                   issuer_key=p.ca_key, not_before=NOW - 2 * YEAR, not_after=NOW + 2 * YEAR,
                                   eku=ObjectIdentifier("1.3.6.1.5.5.7.3.8"))  # fmt: skip
    return cert, key
