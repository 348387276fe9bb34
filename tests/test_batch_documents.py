"""Batch issuance with documents on several workers (#22): PDFs and OFDs written by the pool workers (each
sets up once), missing files filled in by a re-run, the progress line, and Ctrl-C with a resume hint."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import registry_support as rs
from elicense.home import Home

CLI = [sys.executable, "-m", "elicense.cli"]
LINE = re.compile(
    r"^elicense: (issuing|documents) (\d+)/(\d+) rows \((\d+)%\), ([0-9.]+) rows/s, ETA (\S+); "
    r"issued (\d+), skipped (\d+), rejected (\d+), documents (\d+)$"
)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _pdf_ok(path: Path, home: Home) -> bool:
    """pyHanko's own validation of the PDF's signature against the home's roots (no elicense code)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from elicense.pdf.sign import _asn1_cert

    roots = [_asn1_cert(c) for c in home.root_certificates()]
    inter = [_asn1_cert(c) for c in home.intermediate_certificates()]
    emb = PdfFileReader(io.BytesIO(path.read_bytes())).embedded_signatures[0]
    status = validate_pdf_signature(
        emb, signer_validation_context=ValidationContext(trust_roots=roots, other_certs=inter, allow_fetching=False)
    )
    return bool(status.bottom_line)


def test_pdf_batch_on_two_workers_then_rerun_fills_missing(tmp_path: Path) -> None:
    home = Home.load(rs.demo_home(tmp_path / "home"))
    batch = tmp_path / "b.csv"
    rows = [rs.row(i) for i in range(20)]
    rows[5][3] = "not-a-code"  # one rejected row
    batch.write_bytes(rs.csv_bytes(rows))
    pdf = tmp_path / "pdf"
    args = ["issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home.path), "--pdf", str(pdf),
            "--workers", "2", "--json", "--no-progress"]  # fmt: skip
    first = _cli(*args)
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert (report["issued"], report["rejected"], report["pdfs"], report["ofds"]) == (19, 1, 19, 0)
    assert first.stderr == ""
    files = sorted(pdf.glob("*.pdf"))
    assert len(files) == 19
    assert all(_pdf_ok(p, home) for p in files[:3])
    for p in files[:4]:  # as if killed after the commit, before the PDFs
        p.unlink()
    again = json.loads(_cli(*args).stdout)
    assert (again["issued"], again["already_issued"], again["pdfs"]) == (0, 19, 4)
    assert len(list(pdf.glob("*.pdf"))) == 19 and _pdf_ok(files[0], home)


def test_pdf_and_ofd_together_are_refused(tmp_path: Path) -> None:
    home = rs.demo_home(tmp_path / "home")
    batch = tmp_path / "b.csv"
    batch.write_bytes(rs.csv_bytes([rs.row(1)]))
    out = _cli("issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--pdf", str(tmp_path / "p"),
               "--ofd", str(tmp_path / "o"), "--lang", "en")  # fmt: skip
    assert out.returncode != 0 and "--pdf and --ofd cannot be combined" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "p").exists()


def test_ofd_batch_on_two_workers_then_rerun_fills_missing(tmp_path: Path) -> None:
    from elicense.crypto.algorithms import Algorithm
    from elicense.demo import build_demo
    from ofd_support import ofdrw

    world = build_demo(tmp_path / "w", now=rs.NOW, seed=b"ofd-batch", images=False, pdf=False,
                       algorithm=Algorithm.SM2)  # fmt: skip
    batch = tmp_path / "b.csv"
    batch.write_bytes(rs.csv_bytes([rs.row(i) for i in range(18)]))
    ofd = tmp_path / "ofd"
    args = ["issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(world.home.path), "--alg", "sm2",
            "--ofd", str(ofd), "--workers", "2", "--json", "--no-progress"]  # fmt: skip
    first = _cli(*args)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert (report["issued"], report["ofds"], report["pdfs"]) == (18, 18, 0)
    files = sorted(ofd.glob("*.ofd"))
    assert len(files) == 18
    files[0].unlink()
    files[1].unlink()
    again = json.loads(_cli(*args).stdout)
    assert (again["issued"], again["already_issued"], again["ofds"]) == (0, 18, 2)
    out = ofdrw("verify", *files[:3])  # an implementation elicense did not write
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    assert len(lines) == 3 and all(v.startswith("VALID SESV4") for v in lines.values()), out.stdout + out.stderr


def test_progress_line_on_stderr_never_in_json(tmp_path: Path) -> None:
    home = rs.demo_home(tmp_path / "home")
    batch = tmp_path / "b.csv"
    rows = [rs.row(i) for i in range(30)]
    rows[7][3] = "bad"
    batch.write_bytes(rs.csv_bytes(rows))
    out = _cli("issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--progress", "--json",
               "--lang", "en", "--pdf", str(tmp_path / "pdf"))  # fmt: skip
    assert out.returncode == 1
    assert json.loads(out.stdout)["issued"] == 29  # stdout is the JSON document only
    lines = out.stderr.splitlines()
    assert lines and all(LINE.match(x) for x in lines), out.stderr  # nothing else: no warning from pyHanko either
    last = LINE.match(lines[-1])
    assert last is not None
    phase, done, total, pct, rate, eta, issued, skipped, rejected, docs = last.groups()
    assert (phase, done, total, pct, eta) == ("issuing", "29", "29", "100", "0:00:00")
    assert (issued, skipped, rejected, docs) == ("29", "0", "1", "29") and float(rate) > 0
    first = LINE.match(lines[0])
    assert first is not None and first.group(2) == "0" and first.group(6) == "-"  # no rate yet: no made-up ETA
    again = _cli("issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--progress",
                 "--lang", "en")  # fmt: skip
    last = LINE.match(again.stderr.splitlines()[-1])
    assert last is not None and last.group(8) == "29" and last.group(7) == "0"  # all skipped on the re-run
    quiet = _cli("issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--no-progress")
    assert quiet.stderr == ""  # not a terminal and not forced: no line


def test_ctrl_c_commits_running_chunks_and_hints_resume(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it; pressed three times, as an
    impatient person does) stops the job: exit 130, a hint naming what was issued, and the same command
    resumes: every row issued once, every PDF written, the audit log verifies."""
    home = Home.load(rs.demo_home(tmp_path / "home"))
    batch = tmp_path / "b.csv"
    n = 600  # several seconds of PDFs on two processes: the progress line (once a second) shows a partial count
    batch.write_bytes(rs.csv_bytes([rs.row(i) for i in range(n)]))
    pdf = tmp_path / "pdf"
    args = ["issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home.path), "--pdf", str(pdf),
            "--workers", "2", "--progress", "--lang", "en"]  # fmt: skip
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # wait until some rows are done, then press Ctrl-C
        seen.append(line)
        m = LINE.match(line.rstrip("\n"))
        if m and 0 < int(m.group(2)) < n:
            for _ in range(3):
                os.killpg(proc.pid, signal.SIGINT)
                time.sleep(0.02)
            break
        assert time.monotonic() < deadline, seen
    else:
        pytest.fail(f"no progress before the end: {seen}")
    _, rest = proc.communicate(timeout=240)
    assert proc.returncode == 130, rest
    hint = [x for x in rest.splitlines() if "interrupted:" in x]
    assert hint and "re-run the same command to resume" in hint[0] and "Traceback" not in rest, rest
    issued = int(re.search(r"interrupted: (\d+) licences issued", hint[0]).group(1))  # type: ignore[union-attr]
    assert 0 < issued < n
    again = _cli(*[a for a in args if a != "--progress"], "--json", "--no-progress")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["issued"] + report["already_issued"] == n and report["already_issued"] >= issued
    assert len(list(pdf.glob("*.pdf"))) == n
    from elicense.registry import Registry, sqlite_url

    with Registry.open(sqlite_url(home.path / "registry.sqlite")) as reg:
        assert reg.count() == n and reg.verify_audit().ok


def _env_in_worker(name: str) -> str | None:
    return os.environ.get(name)


def test_the_cli_process_acts_on_the_first_ctrl_c_and_ignores_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above presses Ctrl-C three times: the first stops the job, the others must neither cut its
    clean-up short nor end the process by signal (exit -2 instead of 130, the resume hint maybe lost)."""
    from elicense import cli

    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append(handler))
    installed: list[Any] = []
    cli._later_ctrl_c_ignored()
    (handler,) = installed
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)
    handler(signal.SIGINT, None)
    handler(signal.SIGINT, None)


LATE_PRESS = """
import os, signal
from elicense import cli

class PressedDuringTeardown:  # a module global: freed after the interpreter reset its signal handlers
    def __del__(self, kill=os.kill, pid=os.getpid(), sig=signal.SIGINT):
        kill(pid, sig)

def interrupted_run(argv=None, *, process_exits=False):
    cli._later_ctrl_c_ignored()
    try:
        signal.raise_signal(signal.SIGINT)  # the first press: the command stops
    except KeyboardInterrupt:
        return 130
    return 0

cli.run = interrupted_run
late = PressedDuringTeardown()
cli.main([])
"""


def test_a_later_ctrl_c_while_the_interrupted_cli_exits_does_not_end_it_by_signal() -> None:
    """A job that stops quickly is already exiting when the second or third press comes: the interpreter's
    teardown puts Python-level handlers back to the default action, so that press ended the process by
    SIGINT (exit -2 instead of 130: seen when the Ctrl-C test above stopped within its three presses)."""
    out = subprocess.run([sys.executable, "-c", LATE_PRESS], capture_output=True, text=True, timeout=60)
    assert out.returncode == 130, (out.returncode, out.stderr)


def test_ctrl_c_right_after_a_commit_leaves_the_chain_closing_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands between the commit of the issuing process's chain entries and its writer's advance
    (the rare failure of the test above): the job stops, and the chain's closing still records where the
    chain ends (``audit verify`` passes) — the commit and the advance happen both or neither."""
    from elicense.registry import Registry, sqlite_url
    from elicense.registry import batch as b

    home = Home.load(rs.demo_home(tmp_path / "home"))
    url = sqlite_url(home.path / "registry.sqlite")
    real_lock, commits = b._writer_lock, [0]

    @contextlib.contextmanager
    def lock_then_ctrl_c(st: b._Worker) -> Iterator[None]:
        with real_lock(st):
            yield
        commits[0] += 1
        if commits[0] == 2:  # the transaction committed just now: the next bytecode would raise
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(b, "_writer_lock", lock_then_ctrl_c)
    with pytest.raises(b.BatchInterrupted):
        b.run_batch(rs.csv_bytes([rs.row(i) for i in range(12)]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW,
                    actor="t", chunk_size=2, commit_every=2)  # fmt: skip
    with Registry.open(url) as reg:
        closings = [e for e in reg.audit_entries() if e.action == "audit.chain_close"]
        assert reg.count() == 4 and len(closings) == 1
        assert reg.verify_audit().ok, reg.verify_audit()


def test_ctrl_c_while_a_future_lock_is_held_stops_the_job_instead_of_hanging_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while the calling process holds a future's lock, as ``concurrent.futures.wait`` does
    while it registers its waiter (the hang seen once: the pool's shutdown then waits for that lock
    forever). The job stops at its next step with the pool shut down, every chain closing true."""
    from elicense.registry import Registry, sqlite_url
    from elicense.registry import batch as b

    home = Home.load(rs.demo_home(tmp_path / "home"))
    url = sqlite_url(home.path / "registry.sqlite")
    real_wait, pressed = b.wait, [False]

    def wait_with_ctrl_c(fs: Any, timeout: float | None = None, return_when: str = "ALL_COMPLETED") -> Any:
        if fs and not pressed[0]:
            pressed[0] = True
            lock = next(iter(fs))._condition
            lock.acquire()
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # Python runs the handler here, with the lock held
            lock.release()
        return real_wait(fs, timeout, return_when)

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError("the job did not stop within 60 s (a lock held by an interrupted thread?)")

    monkeypatch.setattr(b, "wait", wait_with_ctrl_c)
    monkeypatch.setattr(b, "WAIT_FOR_WORKERS", True)
    before = signal.signal(signal.SIGALRM, too_long)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        with pytest.raises(b.BatchInterrupted):
            b.run_batch(rs.csv_bytes([rs.row(i) for i in range(400)]), home=home, url=url, type_code=rs.TYPE,
                        at=rs.NOW, actor="t", workers=2, chunk_size=4, commit_every=2)  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert pressed[0] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with Registry.open(url) as reg:
        assert 0 < reg.count() < 400 and reg.verify_audit().ok, reg.verify_audit()


def test_pool_workers_get_the_environment_of_their_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers forked from a long-lived fork server see the environment of the job that started them
    ($ELICENSE_PASSPHRASE and the like), as spawned ones would, not the server's copy from an earlier job."""
    import functools

    from elicense.registry import batch as b
    from elicense.registry import sqlite_url

    home = Home.load(rs.demo_home(tmp_path / "home"))
    url = sqlite_url(home.path / "registry.sqlite")
    b.run_batch(rs.csv_bytes([rs.row(1)]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t")
    entry = home.authority_for_type("11100000MB0143028R001")
    for mark in ("one", "two"):
        monkeypatch.setenv("ELICENSE_TEST_MARK", mark)
        job = b._Job(url, entry, functools.partial(home.signer, entry), "11100000MB0143028R001", rs.NOW, "t")
        with b._pool(2, job) as pool:
            assert {pool.submit(_env_in_worker, "ELICENSE_TEST_MARK").result() for _ in range(4)} == {mark}


def test_worker_set_up_error_is_a_clear_error_not_a_broken_pool(tmp_path: Path) -> None:
    """B-T without a TSA: the workers cannot make their in-process TSA (no root key in this home). The
    job stops with that reason, as one worker in process would say it, not with a broken process pool."""
    home = rs.demo_home(tmp_path / "home")
    for key in (home / "keys").glob("root*.key.pem"):
        key.unlink()
    batch = tmp_path / "b.csv"
    batch.write_bytes(rs.csv_bytes([rs.row(i) for i in range(20)]))
    for workers in ("1", "2"):
        out = _cli("issue", "--batch", str(batch), "--type", rs.TYPE, "--home", str(home), "--pdf",
                   str(tmp_path / "pdf"), "--pdf-level", "B-T", "--workers", workers, "--lang", "en")  # fmt: skip
        assert out.returncode == 3, out.stderr
        assert "no root key" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert "BrokenProcessPool" not in out.stderr and "internal error" not in out.stderr, out.stderr


def test_this_process_and_a_worker_both_write_pdfs_each_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-worker PDF job on both processes at once (``WAIT_FOR_WORKERS``: a short job still uses the
    worker): one PDF per licence, each a valid signature, and both processes issued (two writer chains)."""
    from elicense.documents import PdfDocuments
    from elicense.registry import Registry, sqlite_url
    from elicense.registry import batch as b

    home = Home.load(rs.demo_home(tmp_path / "home"))
    monkeypatch.setattr(b, "WAIT_FOR_WORKERS", True)
    n, url = 16, sqlite_url(home.path / "registry.sqlite")
    code = home.authority_for_type("11100000MB0143028R001").code
    report = b.run_batch(rs.csv_bytes([rs.row(i) for i in range(n)]), home=home, url=url, type_code=rs.TYPE,
                         at=rs.NOW, actor="t", workers=2, chunk_size=2,
                         documents=PdfDocuments(home, code, tmp_path / "pdf"))  # fmt: skip
    assert (report.issued, report.pdfs) == (n, n)
    files = sorted((tmp_path / "pdf").glob("*.pdf"))
    assert len(files) == n and _pdf_ok(files[0], home) and _pdf_ok(files[-1], home)
    with Registry.open(url) as reg:
        chains = {str(e.chain) for e in reg.audit_entries() if e.action == "licence.issue"}
        assert len(chains - {"main"}) == 2 and reg.verify_audit().ok


def test_a_document_is_made_from_the_licence_as_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch writes the documents of the licences it has just committed from the licences as it signed
    them, without reading them back: what it signed must be what the registry holds, to the last field
    (normalised capital, multi-line scope, spaces around values), and a licence issued by an
    earlier run is read back."""
    from elicense.documents import PdfDocuments, _FileWriter
    from elicense.registry import Registry, sqlite_url
    from elicense.registry.batch import run_batch

    seen: dict[str, Any] = {}

    def spy(self: Any, issued: Any, *args: Any) -> bool:
        seen[str(issued.licence.id)] = issued
        return True  # nothing written: the licence is what is checked

    monkeypatch.setattr(_FileWriter, "write", spy)
    reads: list[str] = []
    get = Registry.get

    def counted(self: Any, lid: str) -> Any:
        reads.append(lid)
        return get(self, lid)

    home = Home.load(rs.demo_home(tmp_path / "home"))
    monkeypatch.setattr(Registry, "get", counted)
    code = home.authority_for_type("11100000MB0143028R001").code
    url = sqlite_url(home.path / "registry.sqlite")
    rows = [rs.row(i) for i in range(12)]
    rows[1][7] = "100.5"  # registered capital, normalised to 100.50
    rows[2][11] = "软件开发；\n信息技术咨询服务。"
    rows[3][2] = "  济南 第3号 科技有限公司 "
    rows[4][7] = " 2000 "  # spaces around a number
    run_batch(rs.csv_bytes(rows[:6]), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t",
              documents=PdfDocuments(home, code, tmp_path / "pdf"))  # fmt: skip
    first = dict(seen)
    assert reads == []  # just committed: nothing read back
    seen.clear()
    # the rows of the first run again (already issued: their documents come from the registry), and new ones
    run_batch(rs.csv_bytes(rows), home=home, url=url, type_code=rs.TYPE, at=rs.NOW, actor="t",
              documents=PdfDocuments(home, code, tmp_path / "pdf"))  # fmt: skip
    assert len(first) == 6 and len(seen) == 12
    assert sorted(reads) == sorted(first)  # issued by the first run: read back
    monkeypatch.undo()
    with Registry.open(url) as reg:
        for lid, issued in {**seen, **first}.items():
            record = reg.get(lid)
            assert record is not None
            assert issued == record.to_issued(), lid
