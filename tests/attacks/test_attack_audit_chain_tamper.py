"""Attack: rewriting, deleting, reordering, moving or truncating entries of one writer's audit chain
(schema v3, ``specs/audit-log.md``), or dropping a whole chain with its head row and licences."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import registry_support as rs
from elicense.home import Home
from elicense.registry import Registry

_batch, _tamper, _writer_chains = rs.batch_chains, rs.tamper, rs.writer_chains


@pytest.fixture(params=rs.BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return rs.registry_url(request.param, tmp_path)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return Home.load(rs.demo_home(tmp_path_factory.mktemp("chains") / "home"))


@pytest.mark.parametrize(
    "attack",
    ["modify", "rehash", "delete_middle", "truncate_tail", "reorder", "move_to_other_chain", "drop_whole_chain"],
)
def test_attack_audit_chain_tamper(url: str, home: Home, attack: str) -> None:
    _batch(home, url, 120)
    with Registry.open(url) as reg:
        assert reg.verify_audit().ok
        chains = _writer_chains(reg)
        victim = max(chains, key=lambda c: len(chains[c]))
        other = next((c for c in chains if c != victim), "main")
        seqs = chains[victim]
        e = next(x for x in reg.audit_entries() if x.seq == seqs[1])
        if attack == "modify":
            _tamper(reg, f"UPDATE audit_log SET actor = 'mallory' WHERE seq = {seqs[1]}")
        elif attack == "rehash":
            forged = dataclasses.replace(e, actor="mallory").expected_hash()
            _tamper(reg, f"UPDATE audit_log SET actor = 'mallory', hash = '{forged}' WHERE seq = {seqs[1]}")
        elif attack == "delete_middle":
            _tamper(reg, f"DELETE FROM audit_log WHERE seq = {seqs[1]}")
        elif attack == "truncate_tail":  # the last entry and its licence row, head left alone
            last = next(x for x in reg.audit_entries() if x.seq == seqs[-1])
            _tamper(reg, f"DELETE FROM audit_log WHERE seq = {seqs[-1]}",
                    f"DELETE FROM status_indexes WHERE licence_id = '{last.subject}'",
                    f"DELETE FROM licences WHERE id = '{last.subject}'")  # fmt: skip
        elif attack == "reorder":
            _tamper(reg, f"UPDATE audit_log SET chain_seq = -1 WHERE seq = {seqs[1]}",
                    f"UPDATE audit_log SET chain_seq = 2 WHERE seq = {seqs[2]}",
                    f"UPDATE audit_log SET chain_seq = 3 WHERE seq = {seqs[1]}")  # fmt: skip
        elif attack == "move_to_other_chain":
            _tamper(reg, f"UPDATE audit_log SET chain = '{other}', chain_seq = 100000 WHERE seq = {seqs[-1]}")
        else:  # the whole chain, its head, and (to hide the gap) every licence it issued
            subjects = [x.subject for x in reg.audit_entries() if x.chain == victim]
            ids = ", ".join(f"'{s}'" for s in subjects)
            _tamper(reg, f"DELETE FROM audit_log WHERE chain = '{victim}'",
                    f"DELETE FROM audit_chains WHERE chain = '{victim}'",
                    f"DELETE FROM status_indexes WHERE licence_id IN ({ids})",
                    f"DELETE FROM licences WHERE id IN ({ids})")  # fmt: skip
        report = reg.verify_audit()
        assert not report.ok, attack
        assert report.problem is not None
        if attack in ("modify", "delete_middle", "truncate_tail", "reorder", "drop_whole_chain"):
            assert report.broken_chain == victim, report
        if attack == "drop_whole_chain":
            assert "gone" in report.problem
        if attack == "truncate_tail":
            assert "head" in report.problem
