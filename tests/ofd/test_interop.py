"""ofdrw (the Java reference, shared/tools/ofdrw) and elicense agree on elicense's OFD packages.

ofdrw signs an unsigned elicense licence OFD with its test keys (so no elicense seal code is involved):
ofdrw's ``verify`` must say VALID, elicense's container checks must agree, and one-byte tampers of each
part of the package must be INVALID for both, naming the same file.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from elicense.ofd.package import read_package, write_package
from elicense.ofd.verify import check_ofd
from elicense.ofd.write import build_licence_ofd
from elicense.verify.result import Status
from ofd_support import ofdrw


def _sign(world: Any, tmp: Path, name: str) -> Path:
    doc = build_licence_ofd(world.issued[name])
    unsigned, signed = tmp / f"{name}.ofd", tmp / f"{name}-signed.ofd"
    unsigned.write_bytes(doc.unsigned())
    x, y, w, h = doc.seal_box
    page = doc.page_ids.index(doc.seal_page) + 1
    out = ofdrw(
        "sign",
        unsigned,
        signed,
        "--page",
        str(page),
        "--x",
        f"{x:.1f}",
        "--y",
        f"{y:.1f}",
        "--w",
        f"{w:.1f}",
        "--h",
        f"{h:.1f}",
    )
    assert out.returncode == 0 and "SIGNED SESV4" in out.stdout, out.stdout + out.stderr
    return signed


@pytest.fixture(scope="module")
def signed(world: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("ofdrw")
    return {name: _sign(world, tmp, name) for name in ("business-licence-jinan", "resident-id-card-nanjing")}


def _verdicts(paths: list[Path]) -> dict[str, str]:
    out = ofdrw("verify", *paths)
    lines = [line for line in out.stdout.splitlines() if ": " in line]
    assert len(lines) == len(paths), out.stdout + out.stderr
    return {Path(line.split(": ", 1)[0]).name: line.split(": ", 1)[1] for line in lines}


def test_ofdrw_signs_and_verifies_elicense_packages(signed: dict[str, Path]) -> None:
    verdicts = _verdicts(list(signed.values()))
    for _name, path in signed.items():
        assert verdicts[path.name].startswith("VALID SESV4"), verdicts
        report = check_ofd(path.read_bytes())
        assert report.status is Status.VALID and not report.uncovered, report.reasons
        (sig,) = report.signatures
        assert sig.info.kind == "ses" and sig.info.version == 4 and sig.protects_signature_list
        files = set(read_package(path.read_bytes()).files) - {
            "Doc_0/Signs/Sign_0/Signature.xml",
            "Doc_0/Signs/Sign_0/SignedValue.dat",
        }
        assert {r.path.lstrip("/") for r in sig.references} == files  # ofdrw covered every file we wrote


def test_the_stamp_lands_where_elicense_asked(world: Any, signed: dict[str, Path]) -> None:
    doc = build_licence_ofd(world.issued["resident-id-card-nanjing"])
    (annot,) = check_ofd(signed["resident-id-card-nanjing"].read_bytes()).signatures[0].stamp_annots
    assert annot.page_ref == str(doc.seal_page)
    assert annot.boundary == pytest.approx(doc.seal_box, abs=0.05)


def _tamper(data: bytes, part: str, at: int = -1) -> bytes:
    """``data`` with one bit of ``part`` flipped: at ``at``, or in the middle (Signature.xml: in its date, so no
    CheckValue is hit)."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = []
    for name in archive.namelist():
        if name.endswith("/"):
            continue
        content = archive.read(name)
        if name == part:
            if part.endswith("Signature.xml"):
                at = content.index(b"SignatureDateTime>") + 20
            i = min(at, len(content) - 1) if at >= 0 else len(content) // 2
            content = content[:i] + bytes([content[i] ^ 0x01]) + content[i + 1 :]
        files.append((name, content))
    return write_package(files)


TAMPERS = {  # part → (elicense reason, the path both must name; None: ofdrw names no file)
    "OFD.xml": ("ofd_file_modified", "/OFD.xml"),
    "Doc_0/Pages/Page_0/Content.xml": ("ofd_file_modified", "/Doc_0/Pages/Page_0/Content.xml"),
    "Doc_0/Res/font_1.otf": ("ofd_file_modified", "/Doc_0/Res/font_1.otf"),
    "Doc_0/Res/qr.png": ("ofd_file_modified", "/Doc_0/Res/qr.png"),
    "Doc_0/Attachs/licence.cose": ("ofd_file_modified", "/Doc_0/Attachs/licence.cose"),
    "Doc_0/Tags/Tag_Licence.xml": ("ofd_file_modified", "/Doc_0/Tags/Tag_Licence.xml"),
    "Doc_0/Signs/Signatures.xml": ("ofd_file_modified", "/Doc_0/Signs/Signatures.xml"),
    "Doc_0/Signs/Sign_0/Signature.xml": ("ofd_data_hash_mismatch", "/Doc_0/Signs/Sign_0/Signature.xml"),
    "Doc_0/Signs/Sign_0/Seal.esl": ("ofd_file_modified", "/Doc_0/Signs/Sign_0/Seal.esl"),
}


def test_one_byte_tampers_are_invalid_for_both(signed: dict[str, Path], tmp_path: Path) -> None:
    data = signed["business-licence-jinan"].read_bytes()
    paths = []
    for i, part in enumerate(TAMPERS):
        path = tmp_path / f"t{i}.ofd"
        path.write_bytes(_tamper(data, part, -1))
        paths.append(path)
    verdicts = _verdicts(paths)
    for path, (part, (code, named)) in zip(paths, TAMPERS.items(), strict=True):
        report = check_ofd(path.read_bytes())
        assert report.status is Status.INVALID, part
        assert any(r.code == code and (r.detail or "").endswith(named) for r in report.reasons), (part, report.reasons)
        assert verdicts[path.name].startswith("INVALID"), (part, verdicts[path.name])
        assert named in verdicts[path.name], (part, verdicts[path.name])


def test_one_byte_tamper_of_the_signed_value(signed: dict[str, Path], tmp_path: Path) -> None:
    """A flipped bit in the middle of SignedValue.dat: ofdrw's signature check fails; elicense's container
    checks pass it on to the seal verification (the value may still parse) unless its structure broke."""
    path = tmp_path / "sv.ofd"
    path.write_bytes(_tamper(signed["business-licence-jinan"].read_bytes(), "Doc_0/Signs/Sign_0/SignedValue.dat", -1))
    assert _verdicts([path])[path.name].startswith("INVALID")
    assert check_ofd(path.read_bytes()).result(dt.datetime.now(dt.UTC)).status is not Status.VALID
