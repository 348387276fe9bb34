"""``elicense issue --pdf DIR --pdf-level B-T|B-LT`` (single and batch): timestamped / long-term PDFs from issuance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest

from elicense.cli import run
from elicense.verify.result import CheckOutcome, Status

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIELDS = ["holder_name=济南单证科技有限公司", "holder_code=91370102MA3C8K2L65", "entity_type=有限责任公司",
          "法定代表人=李珺", "establishment_date=2020-01-02", "domicile=济南", "business_scope=软件开发"]  # fmt: skip


@pytest.fixture(scope="module")
def live(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A demo world at the real current time: ``elicense issue`` signs at the wall clock."""
    from elicense.demo import build_demo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    return build_demo(tmp_path_factory.mktemp("live"), now=now, seed=b"pdf-levels", images=False, pdf=False)


@pytest.fixture
def home(live, tmp_path: Path) -> Path:
    shutil.copytree(live.home.path, tmp_path / "home")
    return tmp_path / "home"


def _issue(home: Path, pdf_dir: Path, source: str, *extra: str) -> list[str]:
    args = ["issue", "--type", "business-licence", "--home", str(home), "--pdf", str(pdf_dir), "--json",
            "--no-progress", "--field", f"source_id={source}", *extra]  # fmt: skip
    for f in FIELDS:
        args += ["--field", f]
    return args


def _check(result, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in result.checks if c.name == name)


def _verify_cli(capsys, home: Path, pdf: Path) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert run(["bundle", "--home", str(home), "-o", str(home / "b.cose")]) == 0
    capsys.readouterr()
    code = run(["verify", str(pdf), "--trust", str(home / "b.cose"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, doc["reasons"]
    return doc  # type: ignore[no-any-return]


def test_issue_b_lt_pdf_verifies_with_its_dss_crls(live, home: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    from elicense.status.store import StatusStore
    from elicense.verify import Verifier

    out = tmp_path / "pdf"
    assert run(_issue(home, out, "LT-1", "--pdf-level", "B-LT")) == 0
    lid = json.loads(capsys.readouterr().out)["id"]
    pdf = out / f"{lid}.pdf"
    data = pdf.read_bytes()
    dss = PdfFileReader(io.BytesIO(data)).root["/DSS"]
    assert len(dss["/CRLs"]) >= 2 and len(dss["/Certs"]) >= 2
    doc = _verify_cli(capsys, home, pdf)
    assert doc["status"] == "VALID" and doc["licence"]["id"] == lid
    outcomes = {c["name"]: c["outcome"] for c in doc["checks"]}
    assert outcomes["pdf_timestamp"] == outcomes["pdf_revocation"] == "PASSED"
    # a verifier that holds no CRL at all: the DSS CRLs are what make it VALID (a B-B PDF stays INDETERMINATE)
    base = Verifier.from_trust_file(live.trust_file)
    full = base.status
    assert isinstance(full, StatusStore) and full.crls
    no_crls = dataclasses.replace(
        full, crls=(), chains={k: dataclasses.replace(v, revoked=(), crls=(), missing=("CA",))
                               for k, v in full.chains.items()})  # fmt: skip
    v = Verifier(trust=base.trust, status=no_crls)
    result = v.verify_pdf(data)
    assert result.status is Status.VALID, result.reasons
    assert _check(result, "certificate_revocation").detail == "embedded CRLs (PAdES B-LT)"
    assert run(_issue(home, out, "BB-1")) == 0
    b_b = out / f"{json.loads(capsys.readouterr().out)['id']}.pdf"
    plain = v.verify_pdf(b_b.read_bytes())
    assert plain.status is Status.INDETERMINATE and plain.has_reason("revocation_unknown")
    assert b"/DSS" not in b_b.read_bytes()


def test_issue_batch_b_t_pdfs_have_a_timestamp(live, home: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from elicense.verify import Verifier

    batch = tmp_path / "b.csv"
    header = (
        "source_id,holder_name,holder_code,entity_type,legal_representative,establishment_date,domicile,"
        "business_scope\n"
    )
    batch.write_text(header + "".join(f"BT-{i},济南单证{i}有限公司,91370102MA3C8K2L65,有限责任公司,李珺,2020-01-02,"
                                      f"济南,软件开发\n" for i in range(2)), "utf-8")  # fmt: skip
    out = tmp_path / "pdf"
    assert run(["issue", "--batch", str(batch), "--type", "business-licence", "--home", str(home), "--pdf", str(out),
                "--pdf-level", "B-T", "--no-progress", "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["issued"] == 2
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == 2
    verifier = Verifier.from_trust_file(live.trust_file)
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert b"/DSS" not in data
        result = verifier.verify_pdf(data)
        assert result.status is Status.VALID, result.reasons
        ts = _check(result, "pdf_timestamp")
        assert ts.outcome is CheckOutcome.PASSED and ts.detail is not None
    assert _verify_cli(capsys, home, pdfs[0])["status"] == "VALID"


def test_issue_batch_b_lt_on_two_workers_shares_one_context(live, home: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Each worker makes its TSA client, CRLs and B-LT validation context once and signs every PDF of its chunks
    with them: every PDF still carries its own DSS and verifies (the shared context leaks nothing between them)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    batch = tmp_path / "b.csv"
    header = (
        "source_id,holder_name,holder_code,entity_type,legal_representative,establishment_date,domicile,"
        "business_scope\n"
    )
    batch.write_text(header + "".join(f"LT-{i},济南长效{i}有限公司,91370102MA3C8K2L65,有限责任公司,李珺,2020-01-02,"
                                      f"济南,软件开发\n" for i in range(12)), "utf-8")  # fmt: skip
    out = tmp_path / "pdf"
    assert run(["issue", "--batch", str(batch), "--type", "business-licence", "--home", str(home), "--pdf", str(out),
                "--pdf-level", "B-LT", "--workers", "2", "--no-progress", "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["issued"] == report["pdfs"] == 12
    pdfs = sorted(out.glob("*.pdf"))
    for pdf in pdfs:
        dss = PdfFileReader(io.BytesIO(pdf.read_bytes())).root["/DSS"]
        assert len(dss["/CRLs"]) >= 2
    for pdf in (pdfs[0], pdfs[-1]):
        doc = _verify_cli(capsys, home, pdf)
        outcomes = {c["name"]: c["outcome"] for c in doc["checks"]}
        assert doc["status"] == "VALID" and outcomes["pdf_revocation"] == "PASSED"


def test_issue_pdf_level_usage_errors(home: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["issue", "--type", "business-licence", "--home", str(home), "--field", "source_id=E-1", "--no-progress"]
    assert run([*base, "--pdf-level", "B-T"]) == 3  # no --pdf
    assert "--pdf" in capsys.readouterr().err
    assert run([*base, "--pdf", str(tmp_path / "p"), "--tsa-url", "http://127.0.0.1:9/"]) == 3  # B-B + TSA
    assert "B-T" in capsys.readouterr().err
    assert run([*base, "--pdf", str(tmp_path / "p"), "--pdf-level", "B-X"]) >= 2
    assert not (tmp_path / "p").exists()


@pytest.fixture
def http_tsa(live):  # type: ignore[no-untyped-def]
    """An RFC 3161 TSA over HTTP on loopback (a real TimeStampReq/TimeStampResp exchange), certified by the
    demo root: what ``--tsa-url`` talks to in production."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import tsp

    from elicense.documents import root_material
    from elicense.pdf.tsa import LocalTSA

    cert, key = root_material(live.home)
    now = dt.datetime.now(dt.UTC)
    stamper = LocalTSA.create(
        cert, key, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    ).timestamper()  # wall clock, as a real TSA
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 1 << 16))
            requests.append(self.headers.get("Content-Type", ""))
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", requests
    finally:
        server.shutdown()
        server.server_close()


def test_issue_b_t_through_an_http_tsa(live, home: Path, tmp_path: Path, http_tsa, capsys) -> None:  # type: ignore[no-untyped-def]
    from elicense.verify import Verifier

    url, requests = http_tsa
    out = tmp_path / "pdf"
    assert run(_issue(home, out, "HTTP-1", "--pdf-level", "B-T", "--tsa-url", url)) == 0
    lid = json.loads(capsys.readouterr().out)["id"]
    assert requests == ["application/timestamp-query"]
    result = Verifier.from_trust_file(live.trust_file).verify_pdf((out / f"{lid}.pdf").read_bytes())
    assert result.status is Status.VALID, result.reasons
    assert _check(result, "pdf_timestamp").outcome is CheckOutcome.PASSED
    capsys.readouterr()
    # a TSA that is down: a clear error, no PDF
    dead = ["--tsa-url", "http://127.0.0.1:9/tsa"]
    assert run(_issue(home, tmp_path / "none", "HTTP-2", "--pdf-level", "B-T", *dead)) >= 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
