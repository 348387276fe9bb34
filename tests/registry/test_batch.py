"""Bulk issuance: validation report, idempotent re-runs, encodings, malformed CSV,
workers, PostgreSQL, crash-resume after kill -9, and the CLI around it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import registry_support as rs
from elicense.cli import run
from elicense.home import Home
from elicense.registry import Registry, sqlite_url
from elicense.registry.batch import BatchError, run_batch

ELICENSE = str(Path(sys.executable).with_name("elicense"))


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home.load(rs.demo_home(tmp_path / "home"))


def _run(home: Home, data: bytes, tmp_path: Path, url: str | None = None, **kw: object):
    return run_batch(
        data,
        home=home,
        url=url or sqlite_url(home.path / "registry.sqlite"),
        type_code=rs.TYPE,
        at=rs.NOW,
        actor="batch-test",
        report_path=tmp_path / "report.csv",
        **kw,
    )  # type: ignore[arg-type]


def _report(tmp_path: Path) -> list[dict[str, str]]:
    with open(tmp_path / "report.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_batch_issues_good_rows_reports_bad_and_reruns_issue_nothing(home: Home, tmp_path: Path) -> None:
    rows = [rs.row(i) for i in range(40)]
    rows[5][3] = rows[5][3][:-1] + ("0" if rows[5][3][-1] != "0" else "1")  # wrong USCC check char
    rows[9][6] = ""  # missing required legal representative
    rows[12][4] = "2015-13-45"  # not a date
    rows[20][0] = rows[3][0]  # duplicate business key
    rows[30][4] = "2099-01-01"  # issued in the future
    report = _run(home, rs.csv_bytes(rows), tmp_path)
    assert (report.total, report.valid, report.rejected, report.issued) == (40, 35, 5, 35)
    bad = {int(r["row"]): r for r in _report(tmp_path)}
    assert set(bad) == {6, 10, 13, 21, 31}
    assert "check character" in bad[6]["reason"] and "校验码" in bad[6]["reason_zh"]
    assert "legal_representative" in bad[10]["reason"]
    assert "repeats row 4" in bad[21]["reason"]
    assert bad[6]["line"] == "7"
    again = _run(home, rs.csv_bytes(rows), tmp_path)
    assert (again.issued, again.already_issued) == (0, 35)
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        assert reg.count() == 35
        assert len({r.status_index for r in reg.query(limit=None)}) == 35
        assert reg.verify_audit().ok


def test_issued_licence_verifies(home: Home, tmp_path: Path) -> None:
    from elicense.verify.verifier import Verifier

    _run(home, rs.csv_bytes([rs.row(1)]), tmp_path)
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        (rec,) = reg.query(source_id="P-000001")
    verifier = Verifier(trust=home.trust_store())
    result = verifier.verify(rec.qr_payload, at=rs.NOW)
    assert result.licence is not None and str(result.licence.id) == rec.id
    assert result.status.value in ("VALID", "INDETERMINATE"), result.to_dict()  # no status list in this home
    assert not [r for r in result.reasons if "signature" in r.code]


def test_gb18030_with_chinese_headers(home: Home, tmp_path: Path) -> None:
    header = ["来源编号", "证照编号", "名称", "统一社会信用代码", "发证日期", "类型", "法定代表人",
              "注册资本（万元）", "币种", "成立日期", "住所", "经营范围"]  # fmt: skip
    rows = [rs.row(i, prefix="GB") for i in range(5)]
    rows[0][2] = "济南𠀀喆堃科技有限公司"  # a supplementary-plane character: GB18030 four-byte sequence
    data = rs.csv_bytes(rows, encoding="gb18030", header=header)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = _run(home, data, tmp_path)
    assert (report.encoding, report.issued, report.rejected) == ("gb18030", 5, 0)
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        assert reg.query(source_id="GB-000000")[0].holder_name == "济南𠀀喆堃科技有限公司"


def test_utf8_bom_is_accepted(home: Home, tmp_path: Path) -> None:
    report = _run(home, b"\xef\xbb\xbf" + rs.csv_bytes([rs.row(1)]), tmp_path)
    assert (report.encoding, report.issued) == ("utf-8", 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"holder_name,holder_code\nx,y\n", "source_id"),
        (b"source_id,colour\n1,red\n", "unknown column"),
        (b"source_id,source_id\n1,2\n", "twice"),
        (b"source_id,holder_name\n1,\x00\n", "NUL"),
        (b"\xff\xfe\x00s\x00o", "GB18030"),
    ],
)
def test_unusable_files_are_refused_whole(home: Home, tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        _run(home, data, tmp_path)
    assert (
        not (home.path / "registry.sqlite").exists()
        or Registry.open(sqlite_url(home.path / "registry.sqlite")).count() == 0
    )


def test_malformed_rows_are_reported_not_fatal(home: Home, tmp_path: Path) -> None:
    good = rs.csv_bytes([rs.row(1), rs.row(2)]).decode()
    lines = good.splitlines()
    broken = "\n".join([lines[0], lines[1], "P-X,too,few,cells", '"P-Y,"unterminated', lines[2]]) + "\n"
    report = _run(home, broken.encode(), tmp_path)
    assert report.issued >= 1 and report.rejected >= 1
    reasons = [r["reason"] for r in _report(tmp_path)]
    assert any("cells" in r or "malformed" in r for r in reasons)


def test_paper_era_licence_id_with_wrong_check_char_is_reported(home: Home, tmp_path: Path) -> None:
    from elicense.identifiers import LicenceId

    entry = home.authority_for_type("11100000MB0143028R001")
    good_id = LicenceId.build("11100000MB0143028R001", entry.code, "20150001", 1)
    wrong = str(good_id)[:-1] + ("A" if str(good_id)[-1] != "A" else "B")
    header = [*rs.HEADER, "licence_id"]
    rows = [[*rs.row(1), str(good_id)], [*rs.row(2), wrong]]
    report = _run(home, rs.csv_bytes(rows, header=header), tmp_path)
    assert (report.issued, report.rejected) == (1, 1)
    (bad,) = _report(tmp_path)
    assert bad["row"] == "2" and "check" in bad["reason"].lower()
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        assert reg.get(str(good_id)) is not None


def test_two_workers_sqlite(home: Home, tmp_path: Path) -> None:
    report = _run(home, rs.csv_bytes([rs.row(i) for i in range(300)]), tmp_path, workers=2, chunk_size=50)
    assert report.issued == 300
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        assert reg.count() == 300 and reg.verify_audit().ok


def test_a_two_worker_job_leaves_no_write_ahead_log_holding_its_last_commits(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process closes its connections as it exits (the pool's workers too: multiprocessing ends them
    without the interpreter's teardown), so the last one checkpoints the WAL into the database and removes
    it: a copy of ``registry.sqlite`` alone, taken after the job, holds every licence it issued."""
    import elicense.registry.batch as b

    monkeypatch.setattr(b, "WAIT_FOR_WORKERS", True)  # the other worker issues too
    report = _run(home, rs.csv_bytes([rs.row(i) for i in range(300)]), tmp_path, workers=2, chunk_size=50)
    assert report.issued == 300
    assert sorted(p.name for p in home.path.glob("registry.sqlite*")) == ["registry.sqlite", "registry.sqlite.lock"]
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes((home.path / "registry.sqlite").read_bytes())
    with Registry.open(sqlite_url(copy)) as reg:
        assert reg.count() == 300 and reg.verify_audit().ok


def test_postgresql_two_workers_and_rerun(home: Home, tmp_path: Path) -> None:
    url = rs.registry_url("postgresql", tmp_path)
    data = rs.csv_bytes([rs.row(i) for i in range(300)])
    assert _run(home, data, tmp_path, url=url, workers=2, chunk_size=50).issued == 300
    assert _run(home, data, tmp_path, url=url, workers=2).already_issued == 300
    with Registry.open(url) as reg:
        assert reg.count() == 300 and reg.verify_audit().ok
        assert len({r.status_index for r in reg.query(limit=None)}) == 300


def test_crash_resume_after_kill_9(home: Home, tmp_path: Path) -> None:
    """kill -9 the whole batch (main process and workers) mid-way; the re-run completes it exactly once."""
    n = 3000
    batch = tmp_path / "batch.csv"
    batch.write_bytes(rs.csv_bytes([rs.row(i) for i in range(n)]))
    url = sqlite_url(home.path / "registry.sqlite")
    cmd = [ELICENSE, "issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home.path), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    count = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if (home.path / "registry.sqlite").exists():
            try:
                with Registry.open(url) as reg:
                    count = reg.count()
            except Exception:
                count = 0
            if count >= 300:
                break
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with Registry.open(url) as reg:
        partial = reg.count()
    assert 0 < partial < n
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["issued"] + doc["already_issued"] == n and doc["already_issued"] >= partial
    with Registry.open(url) as reg:
        recs = reg.query(limit=None)
        assert len(recs) == n
        assert len({r.source_id for r in recs}) == n
        assert len({r.status_index for r in recs}) == n
        report = reg.verify_audit()
        assert report.ok, report
        assert sum(1 for e in reg.audit_entries() if e.action == "licence.issue") == n


# --------------------------------------------------------------------------- CLI


def test_cli_single_issue_list_show_audit(home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    h = str(home.path)
    fields = ["source_id=CLI-1", "holder_name=济南单证科技有限公司", "holder_code=91370102MA3C8K2L65",
              "entity_type=有限责任公司", "法定代表人=李珺", "establishment_date=2020-01-02", "domicile=济南",
              "business_scope=软件开发"]  # fmt: skip
    args = ["issue", "--type", rs.TYPE, "--home", h, "--out", str(tmp_path / "out"), "--json"]
    for f in fields:
        args += ["--field", f]
    assert run(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["created"] and (tmp_path / "out" / f"{first['id']}.qr.txt").exists()
    assert run(args) == 0
    assert not json.loads(capsys.readouterr().out)["created"]
    assert run(["registry", "list", "--home", h, "--holder", "91370102MA3C8K2L65", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["fields"]["legal_representative"] == "李珺"
    assert run(["registry", "show", "CLI-1", "--home", h, "--qr"]) == 0
    assert capsys.readouterr().out.startswith("EL2:")
    assert run(["registry", "show", "nope", "--home", h]) == 3  # an unknown id is an error, as for revoke
    capsys.readouterr()
    assert run(["audit", "verify", "--home", h, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]
    assert run(["issue", "--type", rs.TYPE, "--home", h, "--field", "colour=red"]) == 3
    assert run(["registry", "list", "--home", str(tmp_path)]) == 3


def test_cli_batch_exit_codes_and_audit_tamper(home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    rows = [rs.row(i) for i in range(6)]
    rows[2][3] = "not-a-code"
    batch = tmp_path / "b.csv"
    batch.write_bytes(rs.csv_bytes(rows))
    h = str(home.path)
    assert run(["issue", "--batch", str(batch), "--type", rs.TYPE, "--home", h]) == 1
    assert "rejected 1" in capsys.readouterr().out
    assert (tmp_path / "b.csv.report.csv").read_text("utf-8").count("\n") == 2
    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg, reg.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET details = '{}' WHERE seq = 4"))
    assert run(["audit", "verify", "--home", h]) == 1
    assert "broken at entry 4" in capsys.readouterr().out


def test_pdf_option(home: Home, tmp_path: Path) -> None:
    from elicense.documents import PdfDocuments

    spec = PdfDocuments(home, home.authority_for_type("11100000MB0143028R001").code, tmp_path / "pdf")
    report = _run(home, rs.csv_bytes([rs.row(i) for i in range(2)]), tmp_path, documents=spec)
    assert report.pdfs == 2 and report.ofds == 0
    assert sorted(p.suffix for p in (tmp_path / "pdf").iterdir()) == [".pdf", ".pdf"]
