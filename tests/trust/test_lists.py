"""Signed XML trust lists: round trip, pinned signers, and the hostile-XML attack classes."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from elicense.crypto.pki import OID_EKU_TRUST_LIST_SIGNING, make_end_entity
from elicense.errors import TrustError
from elicense.trust.lists import (
    DS_NS,
    NS,
    AuthorityRecord,
    RegionPointer,
    TrustSignatureInvalid,
    digest,
    read_national_list,
    read_region_list,
    region_list_element,
    sign_element,
)
from trust_world import NOW, START, World, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@pytest.fixture(scope="module")
def signed(world: World) -> tuple[bytes, RegionPointer]:
    rl = world.region_list("370000", sequence=3, issued_at=NOW, next_update=NOW + dt.timedelta(days=7))
    data = world.sign_region(rl)
    return data, RegionPointer("370000", "regions/370000.xml", digest(data), world.region_ops["370000"][1])


def _read(world: World, data: bytes, pointer: RegionPointer | None = None, *, pin_digest: bool = True):
    p = pointer or RegionPointer("370000", "x", digest(data), world.region_ops["370000"][1])
    if pin_digest:
        p = RegionPointer(p.region, p.location, digest(data), p.signer)
    return read_region_list(data, pointer=p, roots=[world.root])


def test_region_list_round_trip(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    data, pointer = signed
    rl, verified = read_region_list(data, pointer=pointer, roots=[world.root])
    assert rl.region == "370000" and rl.sequence == 3
    assert {a.name for a in rl.authorities} == {"济南市行政审批服务局", "山东省住房和城乡建设厅"}
    assert rl.authorities[0].history[0].at == START
    assert verified.signer.certificate == world.region_ops["370000"][1]


def test_national_list_round_trip(world: World) -> None:
    national_xml, region_xml = world.lists()
    nl, _verified = read_national_list(national_xml, roots=[world.root])
    assert {p.region for p in nl.pointers} == {"370000", "320000"}
    assert len(nl.agreements) == 2
    for p in nl.pointers:
        read_region_list(region_xml[p.region], pointer=p, roots=[world.root])


def test_digest_mismatch_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    data, pointer = signed
    with pytest.raises(TrustSignatureInvalid, match="digest"):
        read_region_list(data + b"\n", pointer=pointer, roots=[world.root])


def test_wrong_pinned_signer_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    data, pointer = signed
    other = RegionPointer("370000", "x", pointer.digest, world.region_ops["320000"][1])
    with pytest.raises(TrustSignatureInvalid):
        read_region_list(data, pointer=other, roots=[world.root])


def test_signer_without_trust_list_eku_refused(world: World) -> None:
    key, cert, *_ = world.authorities["jinan-approval"]  # a licence-signing certificate
    rl = world.region_list("370000", sequence=1, issued_at=NOW, next_update=NOW + dt.timedelta(days=7))
    data = sign_element(region_list_element(rl), key, cert, (world.ca["370000"][1],))
    with pytest.raises(TrustSignatureInvalid, match="trust-list signer"):
        read_region_list(data, pointer=RegionPointer("370000", "x", digest(data), cert), roots=[world.root])


def test_national_list_signed_by_region_operator_refused(world: World) -> None:
    from elicense.trust.lists import national_list_element
    from trust_world import NationalList

    key, cert = world.region_ops["370000"]
    nl = NationalList("伪国家", 9, NOW, NOW + dt.timedelta(days=1), (), ())
    data = sign_element(national_list_element(nl), key, cert, (world.ca["370000"][1],))
    with pytest.raises(TrustSignatureInvalid, match="directly by the national root"):
        read_national_list(data, roots=[world.root])


def test_authority_outside_region_refused(world: World) -> None:
    _, cert, uscc, _, types = world.authorities["nanjing-market"]
    intruder = AuthorityRecord("南京市市场监督管理局", uscc, "320100", (cert,), types, ())
    rl = world.region_list(
        "370000", sequence=1, issued_at=NOW, next_update=NOW + dt.timedelta(days=7), authorities=[intruder]
    )
    with pytest.raises(TrustError):
        _read(world, world.sign_region(rl))


# -- signature wrapping and hostile XML ------------------------------------------------------


def _tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _bytes(tree: etree._Element) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_added_unsigned_authority_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    tree = _tree(signed[0])
    auths = tree.find(f"{{{NS}}}Authorities")
    auths.append(etree.fromstring(etree.tostring(auths[0])))
    auths[-1].find(f"{{{NS}}}Name").text = "伪造机关"
    with pytest.raises(TrustSignatureInvalid):
        _read(world, _bytes(tree))


def test_wrapped_second_list_element_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    """A wrapper holding an unsigned evil TrustList next to the signed one."""
    signed_tree = _tree(signed[0])
    evil = _tree(signed[0])
    evil.remove(evil.find(f"{{{DS_NS}}}Signature"))
    evil.find(f"{{{NS}}}Scheme/{{{NS}}}Sequence").text = "999"
    wrapper = etree.Element(f"{{{NS}}}TrustList")
    wrapper.append(evil)
    wrapper.append(signed_tree)
    with pytest.raises((TrustSignatureInvalid, TrustError)):
        _read(world, _bytes(wrapper))
    # and the evil list as root, with the signed list tucked inside it
    evil2 = _tree(signed[0])
    evil2.find(f"{{{NS}}}Scheme/{{{NS}}}Sequence").text = "999"
    sig = evil2.find(f"{{{DS_NS}}}Signature")
    evil2.remove(sig)
    holder = etree.SubElement(evil2, f"{{{NS}}}Extension")
    holder.append(_tree(signed[0]))
    with pytest.raises((TrustSignatureInvalid, TrustError)):
        _read(world, _bytes(evil2))


def test_moved_signature_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    tree = _tree(signed[0])
    sig = tree.find(f"{{{DS_NS}}}Signature")
    tree.remove(sig)
    tree.find(f"{{{NS}}}Authorities")[0].append(sig)
    with pytest.raises(TrustSignatureInvalid, match="child of the root"):
        _read(world, _bytes(tree))


def test_comment_injection_refused(world: World, signed: tuple[bytes, RegionPointer]) -> None:
    """``<USCC>1137<!---->…</USCC>``: exclusive c14n drops comments, so the digest would still match."""
    data = signed[0]
    uscc = world.authorities["jinan-approval"][2]
    tampered = data.replace(f"<USCC>{uscc}</USCC>".encode(), f"<USCC>{uscc[:4]}<!---->{uscc[4:]}</USCC>".encode())
    assert tampered != data
    with pytest.raises(TrustSignatureInvalid, match="comment"):
        _read(world, tampered)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE TrustList [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TrustList xmlns="urn:elicense:trust-list:1"><Scheme><Operator>&xxe;</Operator></Scheme></TrustList>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<TrustList xmlns="urn:elicense:trust-list:1">&lol9;</TrustList>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS, XXE.replace(b"DOCTYPE", b"doctype")], ids=["xxe", "laughs", "lower"])
def test_dtd_and_entities_refused(world: World, payload: bytes) -> None:
    with pytest.raises(TrustError):
        _read(world, payload)
    with pytest.raises(TrustError):
        read_national_list(payload, roots=[world.root])


def test_oversized_list_refused(world: World) -> None:
    from elicense.trust import lists

    with pytest.raises(TrustError, match="too large"):
        _read(world, b"<" + b"a" * (lists.MAX_LIST_BYTES + 1))


def test_list_issued_outside_signer_validity_refused(world: World) -> None:
    key, ca = world.ca["370000"]
    op_key = world.region_ops["370000"][0]
    short = make_end_entity(
        op_key.public_key(),
        "短期运营",
        uscc=None,
        province="山东省",
        issuer_cert=ca,
        issuer_key=key,
        not_before=START,
        not_after=START + dt.timedelta(days=10),
        eku=OID_EKU_TRUST_LIST_SIGNING,
    )
    rl = world.region_list("370000", sequence=1, issued_at=NOW, next_update=NOW + dt.timedelta(days=7))
    data = sign_element(region_list_element(rl), op_key, short, (ca,))
    with pytest.raises(TrustSignatureInvalid, match="validity"):
        read_region_list(data, pointer=RegionPointer("370000", "x", digest(data), short), roots=[world.root])
