"""The floor of the PDF benchmarks: a pyHanko signer as pyHanko makes signatures for anyone.

A ``signers.Signer`` whose one override is the raw signature (by the key in this process, through
elicense's ``Signer``): pyHanko assembles the CMS and its signed attributes itself. elicense's own pyHanko
signer (``elicense.pdf.sign._pyhanko_signer``) also keeps its signing-certificate attribute parsed
(~70 % of a bare sign): measuring against it would make the floor elicense's own code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from elicense.pdf.sign import _asn1_cert, _pyhanko_signer

if TYPE_CHECKING:
    from elicense.crypto.keys import Signer


def stock_signer(key: Signer) -> signers.Signer:
    """pyHanko's own CMS assembly around ``key``'s raw signature: same certificates and mechanism."""

    class _Stock(signers.Signer):
        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            return key.sign(data)

    certs = [_asn1_cert(c) for c in (key.certificate, *key.chain)]
    return _Stock(
        signing_cert=certs[0],
        cert_registry=SimpleCertificateStore.from_certs(certs[1:]),  # type: ignore[no-untyped-call]
        signature_mechanism=_pyhanko_signer(key).get_signature_mechanism_for_digest("sha256"),
        embed_roots=False,
    )
