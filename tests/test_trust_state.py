"""TrustedState: the one owner of what trust a verifier loads, in which order, and what may replace it."""

from __future__ import annotations

import shutil

import pytest

from elicense.cli import run
from elicense.errors import TrustError
from elicense.status.state import STATE_FILE, VerifierState
from elicense.status.store import StatusStore
from elicense.trust.bundle import read_bundle_file
from elicense.trust.lists import TrustRollback
from elicense.trust_state import TrustedState


def test_a_bundle_loads_in_order_and_is_remembered(world, tmp_path):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    loaded = TrustedState.load(world.trust_file, state=state)
    assert loaded.bundle is not None and loaded.state_dir == state
    assert isinstance(loaded.status, StatusStore) and loaded.status.lists  # the status section, bound to the trust
    memory = VerifierState.load(state)
    assert memory.bundle is not None and memory.bundle[0] == loaded.bundle.sequence
    assert memory.anchors and memory.known_sequences == {c: s.sequence for c, s in loaded.status.lists.items()}


def test_parts_are_every_dated_part_earliest_first(world):  # type: ignore[no-untyped-def]
    loaded = TrustedState.inspect(read_bundle_file(world.trust_file))
    parts = loaded.parts()
    kinds = {p.kind for p in parts}
    assert {"bundle", "national_list", "region_list", "status_list", "crl"} <= kinds
    assert [p.next_update for p in parts] == sorted(p.next_update for p in parts)


def test_trust_show_reads_no_memory_and_writes_none(world, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    monkeypatch.setenv("ELICENSE_STATE", str(state))
    assert run(["trust", "show", str(world.trust_file), "--json"]) == 0
    assert not (state / STATE_FILE).exists()  # showing a bundle is not accepting it


def test_an_installed_bundle_is_replaced_only_by_a_newer_bundle(world):  # type: ignore[no-untyped-def]
    bundle = read_bundle_file(world.trust_file)
    with pytest.raises(TrustError, match="not a signed trust bundle"):
        TrustedState.check_replacement(bundle, None)
    with pytest.raises(TrustRollback):
        TrustedState.check_replacement(bundle, bundle)  # the same sequence again
    TrustedState.check_replacement(None, bundle)  # a JSON trust file may be replaced by what loads


def test_a_refused_update_leaves_the_installed_bundle_and_the_memory(world, tmp_path):  # type: ignore[no-untyped-def]
    installed = tmp_path / "installed.cose"
    shutil.copy(world.trust_file, installed)
    state = tmp_path / "state"
    TrustedState.load(installed, state=state)
    before = (state / STATE_FILE).read_bytes()
    with pytest.raises(TrustRollback):
        TrustedState.update_file(installed, world.trust_file, state=state)  # not newer
    assert installed.read_bytes() == world.trust_file.read_bytes()
    assert (state / STATE_FILE).read_bytes() == before


def test_unreadable_trust_data_is_a_typed_error(tmp_path):  # type: ignore[no-untyped-def]
    with pytest.raises(TrustError, match="cannot read trust file"):
        TrustedState.load(tmp_path / "missing.cose")


def test_from_trust_file_takes_a_region_like_from_bundle(world):  # type: ignore[no-untyped-def]
    from elicense.trust.policy import Recognition
    from elicense.verify import Verifier

    verifier = Verifier.from_trust_file(world.trust_file, region="370000")
    assert any(isinstance(p, Recognition) for p in verifier.policies)
    assert verifier.bundle is not None
