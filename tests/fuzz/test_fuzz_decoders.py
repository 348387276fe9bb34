"""Property fuzzing of every decoder: a correct result or a typed ``ElicenseError``, never VALID when mutated.

Default budget is short (CI); ``ELICENSE_FUZZ=long`` runs each target 200x longer. The same
targets run under atheris with ``tests/fuzz/atheris_targets.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elicense.crypto.algorithms import AlgorithmPolicy
from elicense.verify.inputs import verify_bytes
from elicense.verify.result import Status
from fuzz._corpus import NAMES, NOW, SES_DOC, _fresh_verifier, ses_world, targets, world
from fuzz.strategies import fuzz_settings, inputs, mutation

EXAMPLES = {
    "el1": 300, "el1_cose": 300, "ep1": 150, "ep1_cose": 200, "cbor": 500, "base45": 500,
    "national_list": 80, "region_list": 80, "trust_list_xml": 200, "status_list": 300, "status_content": 400,
    "bundle": 150, "bundle_content": 150, "trust_file": 100, "crl": 200, "image": 40, "image_pixels": 25, "input": 80, "kiosk": 100, "pdf": 40, "ses_seal": 300, "ses_signature": 150,
}  # fmt: skip
"""Examples per target in the CI profile (cheaper decoders get more)."""


def _target(name: str):  # type: ignore[no-untyped-def]
    t = targets().get(name)
    if t is None:
        pytest.skip(f"{name}: optional dependency missing")
    return t


@pytest.mark.parametrize("name", ["el1", "ep1", "input"])
def test_seeds_are_genuine(name: str) -> None:
    """The fuzz starts from inputs that verify VALID, so a mutation that stays VALID would be caught."""
    t = _target(name)
    for seed in t.seeds:
        results = verify_bytes(_fresh_verifier(), seed)
        assert [r.status for r in results] == [Status.VALID], (name, results)
        t.run(seed)


def test_pixel_seed_decodes_to_the_genuine_payload() -> None:
    import io

    from PIL import Image

    from elicense.qr.decode import read_qr_texts
    from fuzz._corpus import qr_pixels

    width, height, pixels = qr_pixels()
    buf = io.BytesIO()
    Image.frombytes("L", (width, height), pixels).save(buf, format="PNG")
    assert read_qr_texts(buf.getvalue()) == [world().el1["business-licence-jinan"]]


def test_ses_seed_is_genuine() -> None:
    seal_verify = pytest.importorskip("elicense.seal.verify")
    t = _target("ses_signature")
    sw = ses_world()
    r = seal_verify.verify_signature(
        t.seeds[0], document=SES_DOC, trust=sw["trust"], at=NOW, algorithms=AlgorithmPolicy.of(["SM2"])
    )
    assert r.status is Status.VALID, r.reasons
    t.run(t.seeds[0])


def _fuzz(name: str) -> None:
    t = _target(name)

    @fuzz_settings(EXAMPLES[name])
    @given(data=inputs(t.seeds, t.text))
    def prop(data: bytes) -> None:
        t.run(data)

    prop()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz(name: str) -> None:
    _fuzz(name)


@fuzz_settings(200)
@given(st.data())
def test_fuzz_el1_signed_content_tampered_never_valid(data: st.DataObject) -> None:
    """Change the signed payload inside a genuine COSE_Sign1, keep the signature: always INVALID."""
    from elicense.qr import cbor
    from elicense.qr.cose import parse_sign1
    from elicense.qr.payload import unwrap, wrap

    original = unwrap(world().el1["business-licence-jinan"])  # VALID as it is
    msg = parse_sign1(original)
    payload = data.draw(mutation(msg.payload))
    if payload == msg.payload:
        return
    tampered = cbor.dumps(cbor.tag(18, [msg.protected, {}, payload, msg.signature]))
    result = world().verifier.verify(wrap(tampered))
    assert result.status is not Status.VALID
