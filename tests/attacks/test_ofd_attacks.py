"""Hostile OFD packages: every bomb and escape is a typed error (reader) or an INVALID verdict (checker).

Bounds of :mod:`elicense.ofd.package`: file size, entry count, inflated size and ratio (headers are not
trusted), names that leave the package or repeat, encrypted entries, and XML with DOCTYPE / entities /
external references / absurd nesting.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from elicense.ofd import package as pkg
from elicense.ofd.package import OfdFormatError, OfdLimitError, parse_xml, read_package, resolve, write_package
from elicense.ofd.verify import check_ofd
from elicense.verify.result import Status

from ._support import MiB, peak_memory, raises_typed

MINIMAL = [
    (
        "OFD.xml",
        b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" '
        b'Version="1.1" DocType="OFD"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>'
        b"</ofd:DocBody></ofd:OFD>",
    ),
    (
        "Doc_0/Document.xml",
        b'<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Pages>'
        b'<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>',
    ),
    ("Doc_0/Pages/Page_0/Content.xml", b'<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"/>'),
]


def _zip(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def _checked_invalid(data: bytes, code: str) -> None:
    """The checker never raises: it says INVALID with ``code``."""
    report = check_ofd(data)
    assert report.status is Status.INVALID and [r.code for r in report.reasons] == [code], report.reasons


def test_attack_ofd_zip_bomb() -> None:
    bomb = _zip([*MINIMAL, ("Doc_0/Res/bomb.bin", b"\0" * (300 * MiB))])
    assert len(bomb) < 1 * MiB
    with peak_memory() as peak:
        exc = raises_typed(lambda: read_package(bomb))
    assert isinstance(exc, OfdLimitError) and "zip bomb" in str(exc)
    assert peak[0] < 8 * MiB  # cut off after a few chunks, not after inflating 300 MB
    _checked_invalid(bomb, "ofd_too_large")


def test_attack_ofd_lying_size_headers() -> None:
    """The sizes in the ZIP headers are not trusted: a bomb that claims to be small is still cut off."""
    bomb = bytearray(_zip([("big.bin", b"\0" * (80 * MiB))]))
    info = zipfile.ZipFile(io.BytesIO(bytes(bomb))).infolist()[0]
    # patch the uncompressed size in the central directory to 10 bytes
    cd = bomb.rfind(b"PK\x01\x02")
    bomb[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    assert info.file_size == 80 * MiB
    assert isinstance(raises_typed(lambda: read_package(bytes(bomb))), (OfdLimitError, OfdFormatError))


def test_attack_ofd_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    many = _zip([*MINIMAL, *((f"Doc_0/Res/r{i}", b"") for i in range(pkg.MAX_ENTRIES))], zipfile.ZIP_STORED)
    assert isinstance(raises_typed(lambda: read_package(many)), OfdLimitError)
    _checked_invalid(many, "ofd_too_large")


def test_attack_ofd_oversized_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pkg, "MAX_PACKAGE_BYTES", 1000)
    assert isinstance(raises_typed(lambda: read_package(_zip([*MINIMAL, ("x", b"a" * 2000)], 0))), OfdLimitError)


@pytest.mark.parametrize(
    "name",
    [
        "../evil.xml",
        "Doc_0/../../evil.xml",
        "/etc/passwd",
        "Doc_0\\..\\x.xml",
        "C:/x.xml",
        "Doc_0//x.xml",
        "./OFD.xml",
        "Doc_0/\x01.xml",
    ],
)
def test_attack_ofd_names_escaping_the_package(name: str) -> None:
    data = _zip([*MINIMAL, (name, b"x")])
    exc = raises_typed(lambda: read_package(data))
    assert isinstance(exc, OfdFormatError)
    _checked_invalid(data, "ofd_malformed")


def test_attack_ofd_duplicate_entries() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = _zip([*MINIMAL, ("Doc_0/Pages/Page_0/Content.xml", b"<other/>")])
    assert "twice" in str(raises_typed(lambda: read_package(data)))
    _checked_invalid(data, "ofd_malformed")


def test_attack_ofd_file_shadowing_a_directory() -> None:
    data = _zip([*MINIMAL, ("Doc_0/Pages", b"x")])
    assert isinstance(raises_typed(lambda: read_package(data)), OfdFormatError)


def test_attack_ofd_locations_escaping_the_package() -> None:
    for loc in ("../../etc/passwd", "/../x", "http://evil.example/x.xml", "file:///etc/passwd", "a\\b"):
        assert isinstance(raises_typed(lambda loc=loc: resolve("Doc_0", loc)), OfdFormatError), loc
    assert resolve("Doc_0/Signs", "../Pages/Page_0/Content.xml") == "Doc_0/Pages/Page_0/Content.xml"
    evil = [(n, d.replace(b"Doc_0/Document.xml", b"../Document.xml")) for n, d in MINIMAL]
    _checked_invalid(_zip(evil), "ofd_malformed")


def test_attack_ofd_not_a_zip_and_truncated() -> None:
    for data in (b"", b"%PDF-1.7", b"PK\x03\x04" + b"\0" * 40, _zip(MINIMAL)[:-30]):
        assert isinstance(raises_typed(lambda data=data: read_package(data)), OfdFormatError)
        assert check_ofd(data).status is Status.INVALID


def test_attack_ofd_encrypted_entry() -> None:
    data = bytearray(_zip(MINIMAL))
    data[6] |= 0x01  # local header flag
    cd = data.rfind(b"PK\x01\x02", 0, len(data))
    first_cd = data.find(b"PK\x01\x02")
    data[first_cd + 8] |= 0x01
    assert cd >= first_cd
    assert isinstance(raises_typed(lambda: read_package(bytes(data))), OfdFormatError)


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&lol9;</ofd:OFD>'
)


@pytest.mark.parametrize(
    "xml",
    [
        LAUGHS,
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://evil.example/x.dtd"><x/>',
        b'<?xml version="1.0"?><!--' + b"pad" * 3000 + b'--><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil.example/p">%p;]><x/>',
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "doctype-after-long-comment", "parameter-entity"],
)
def test_attack_ofd_xml_entities_and_external_references(xml: bytes) -> None:
    with peak_memory() as peak:
        exc = raises_typed(lambda: parse_xml(xml, "OFD.xml"))
    assert isinstance(exc, OfdFormatError) and peak[0] < 4 * MiB
    data = _zip([("OFD.xml", xml), *MINIMAL[1:]])
    _checked_invalid(data, "ofd_malformed")


def test_attack_ofd_deep_xml() -> None:
    deep = b"<a>" * (pkg.MAX_XML_DEPTH + 5) + b"</a>" * (pkg.MAX_XML_DEPTH + 5)
    assert isinstance(raises_typed(lambda: parse_xml(deep)), (OfdLimitError, OfdFormatError))


def test_attack_ofd_huge_xml_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pkg, "MAX_XML_BYTES", 100)
    assert isinstance(raises_typed(lambda: parse_xml(b"<a>" + b" " * 200 + b"</a>")), OfdLimitError)


def test_attack_ofd_reference_outside_package_in_signature(tmp_path: Any) -> None:
    """A Reference/BaseLoc that points outside the package is refused, never read from disk."""
    sig = (
        b'<ofd:Signature xmlns:ofd="http://www.ofdspec.org/2016"><ofd:SignedInfo><ofd:References CheckMethod="SM3">'
        b'<ofd:Reference FileRef="/../../etc/passwd"><ofd:CheckValue>AA==</ofd:CheckValue></ofd:Reference>'
        b"</ofd:References></ofd:SignedInfo><ofd:SignedValue>v.dat</ofd:SignedValue></ofd:Signature>"
    )
    ofd_xml = MINIMAL[0][1].replace(
        b"</ofd:DocBody>", b"<ofd:Signatures>S/Signatures.xml</ofd:Signatures></ofd:DocBody>"
    )
    data = write_package(
        [
            ("OFD.xml", ofd_xml),
            *MINIMAL[1:],
            (
                "S/Signatures.xml",
                b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Signature ID="1" '
                b'BaseLoc="/S/0/Signature.xml"/></ofd:Signatures>',
            ),
            ("S/0/Signature.xml", sig),
            ("S/0/v.dat", b"\x30\x00"),
        ]
    )
    _checked_invalid(data, "ofd_malformed")


def test_attack_ofd_too_many_signatures() -> None:
    from elicense.ofd import verify

    entries = "".join(f'<ofd:Signature ID="{i}" BaseLoc="/S/x.xml"/>' for i in range(verify.MAX_SIGNATURES + 1))
    ofd_xml = MINIMAL[0][1].replace(
        b"</ofd:DocBody>", b"<ofd:Signatures>S/Signatures.xml</ofd:Signatures></ofd:DocBody>"
    )
    data = write_package(
        [
            ("OFD.xml", ofd_xml),
            *MINIMAL[1:],
            (
                "S/Signatures.xml",
                f'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016">{entries}</ofd:Signatures>'.encode(),
            ),
        ]
    )
    _checked_invalid(data, "ofd_too_large")


def test_attack_ofd_mutations_of_a_sealed_licence(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Bit flips, truncations, insertions and moved chunks of a sealed SM2 licence OFD: verification never
    raises, and a VALID verdict only survives mutations that left every file of the package unchanged
    (ZIP metadata such as timestamps)."""
    import random

    from conftest import NOW, SEED
    from elicense.crypto.algorithms import Algorithm
    from elicense.demo import build_demo
    from elicense.documents import issue_ofd
    from elicense.ofd.package import OfdError
    from elicense.verify import Verifier

    world = build_demo(
        tmp_path_factory.mktemp("sm2fuzz"), now=NOW, seed=SEED, images=False, pdf=False, algorithm=Algorithm.SM2
    )
    verifier = Verifier.from_trust_file(world.trust_file, algorithms=[Algorithm.SM2])
    data = issue_ofd(world.home, world.issued["driving-licence-nanjing"])
    assert verifier.verify_ofd(data, at=NOW).status is Status.VALID
    files = dict(read_package(data).files)
    rng = random.Random(18)
    for i in range(240):
        blob = bytearray(data)
        kind = i % 4
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del blob[rng.randrange(len(blob)) :]
        elif kind == 2:
            at = rng.randrange(len(blob))
            blob[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:
            a, b = sorted(rng.sample(range(len(blob)), 2))
            blob = blob[:a] + blob[b:] + blob[a:b]
        result = verifier.verify_ofd(bytes(blob), at=NOW)
        if result.status is Status.VALID:
            try:
                same = dict(read_package(bytes(blob)).files) == files
            except OfdError:
                same = False
            assert same, (i, kind)
