"""Time stamps on seal signatures: the token must stamp the signature value, be the TSA's, and the TSA trusted."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

pytest.importorskip("tongsuopy")

import ses_support as sx
from elicense.crypto import keys, sm2
from elicense.seal import api, ses

XML = b"<ofd:Signature>stamped</ofd:Signature>"
STAMP_AT = sx.SIGNED + dt.timedelta(seconds=30)


def _signed(stamper: Any) -> bytes:
    p = sx.pki()
    seal = ses.make_seal(
        es_id="TS1", name="时间戳测试章", certificates=[p.signer], picture_png=b"\x89PNG\r\n\x1a\n", width_mm=40,
        height_mm=40, valid_start=sx.NOW - sx.YEAR, valid_end=sx.NOW + sx.YEAR, maker_cert=p.maker,
        maker_key=p.maker_key, created=sx.NOW - sx.YEAR,
    )  # fmt: skip
    signer = keys.Sm2Signer(p.signer_key, p.signer, (p.ca,))
    return api.sign_ses(sm2.sm3(XML), "/Doc_0/Signs/Sign_0/Signature.xml", seal, signer, sx.SIGNED, crls=p.crls,
                        time_stamper=stamper)  # fmt: skip


def _verify(data: bytes, **kw: Any) -> api.SesVerification:
    p = sx.pki()
    trust = dataclasses.replace(ses.SesTrust(roots=(p.root,), intermediates=(p.ca,), crls=p.crls), **kw)
    return api.verify_ses(data, data_hash=sm2.sm3(XML), trust=trust, at=sx.NOW)


def _stamper(**kw: Any) -> Any:
    cert, key = kw.pop("tsa", sx.tsa())
    at = kw.pop("at", STAMP_AT)
    return lambda value: sx.make_time_stamp(value, cert, key, at, **kw)


def test_genuine_time_stamp_passes() -> None:
    res = _verify(_signed(_stamper()))
    assert res.valid, res.result.to_dict()
    check = next(c for c in res.checks if c.name == "timestamp")
    assert str(check.outcome) == "PASSED" and "测试时间戳服务" in (check.detail or "")


def test_time_stamp_over_other_bytes_is_invalid() -> None:
    res = _verify(_signed(_stamper(imprint=b"\x00" * 32)))
    assert res.has_reason("ses_timestamp_invalid") and res.status.value == "INVALID"


def test_time_stamp_by_another_key_is_invalid() -> None:
    cert, _ = sx.tsa()
    res = _verify(_signed(_stamper(tsa=(cert, sm2.Sm2PrivateKey.generate()))))
    assert res.has_reason("ses_timestamp_invalid")


def test_untrusted_or_unqualified_tsa_is_unverified_not_accepted() -> None:
    from cryptography.x509.oid import ObjectIdentifier

    key = sm2.Sm2PrivateKey.generate()
    own_root = sm2.make_sm2_root(key, "自建 TSA 根", not_before=sx.NOW - sx.YEAR, not_after=sx.NOW + sx.YEAR)
    tsa_key = sm2.Sm2PrivateKey.generate()
    tsa = sm2.make_sm2_end_entity(tsa_key.public_key(), "自建 TSA", uscc=None, province="浙江省", issuer_cert=own_root,
                                  issuer_key=key, not_before=sx.NOW - sx.YEAR, not_after=sx.NOW + sx.YEAR,
                                  eku=ObjectIdentifier("1.3.6.1.5.5.7.3.8"))  # fmt: skip
    data = _signed(_stamper(tsa=(tsa, tsa_key)))
    res = _verify(data)
    assert res.has_reason("ses_timestamp_unverified") and res.status.value == "INDETERMINATE"
    assert _verify(data, tsa_roots=(own_root,)).valid  # the relying party trusts that TSA
    p = sx.pki()
    no_eku = _signed(_stamper(tsa=(p.signer, p.signer_key)))  # a signing certificate is no TSA
    assert _verify(no_eku).has_reason("ses_timestamp_unverified")


def test_signing_time_after_the_stamp_is_invalid() -> None:
    res = _verify(_signed(_stamper(at=sx.SIGNED - dt.timedelta(hours=1))))
    assert res.has_reason("ses_timestamp_invalid")


def test_garbage_time_stamp_is_invalid() -> None:
    res = _verify(_signed(lambda _value: b"\x30\x03\x02\x01\x01"))
    assert res.has_reason("ses_timestamp_invalid")


def test_ofdrw_reads_a_time_stamped_signature(tmp_path: Any) -> None:
    path = tmp_path / "stamped.dat"
    path.write_bytes(_signed(_stamper()))
    proc = sx.run_ofdrw("seal-info", str(path))
    assert proc.returncode == 0 and "signer_sig=VALID" in proc.stdout and "der=canonical" in proc.stdout, proc.stdout
