"""The seal API for carriers (OFD, detached files): make and verify seal signatures.

Small on purpose. A carrier computes what is signed (for OFD: SM3 of ``Signature.xml``,
``propertyInfo`` = that file's path) and calls:

* :func:`sign_ses` → ``SES_Signature`` DER (GB/T 38540 v4) for ``SignedValue.dat``;
* :func:`verify_ses` → :class:`SesVerification` (status, ordered checks, reasons, the seal,
  the signer certificate, deviations) for a v1/v4/v5 ``SES_Signature``;
* :func:`sign_signed_data` / :func:`verify_signed_data` → the same for GB/T 35275
  ``SignedData`` ("Sign"-type OFD signatures);
* :func:`detect` tells which of the two (or a bare seal, or a raw SM2 value) a blob is.

Trust is a :class:`SesTrust`: SM2 roots for signers, :class:`SealMaker` entries for seal-making
systems of other regions/vendors (see ``specs/seal.md``), CRLs. Nothing here raises for a
failed check; bad *arguments* to the signing functions raise :class:`~elicense.errors.CryptoError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from elicense.seal.ses import (
    Deviation,
    Seal,
    SealMaker,
    SealSignature,
    SesTrust,
    SesVerification,
    kind_of,
    parse_seal,
    parse_signature,
    sign_tbs,
)
from elicense.seal.signeddata import SignedData, SignedDataVerification, parse_signed_data, verify_signed_data
from elicense.seal.signeddata import sign_signed_data as _sign_signed_data
from elicense.seal.verify import verify_seal, verify_ses

if TYPE_CHECKING:
    from elicense.crypto.keys import Sm2Signer


def sign_ses(
    data_hash: bytes,
    property_info: str,
    seal_der: bytes,
    signer: Sm2Signer,
    at: dt.datetime,
    *,
    crls: Sequence[bytes] = (),
    time_stamp: bytes | None = None,
    time_stamper: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """``SES_Signature`` DER (v4): ``signer`` signs DER(TBS_Sign) holding ``seal_der``,
    ``at`` (timeInfo), ``data_hash`` (32-byte SM3) and ``property_info``.

    ``signer`` is an :class:`~elicense.crypto.keys.Sm2Signer` whose certificate is in the seal's
    certificate list. ``crls`` (DER) are embedded as revocation evidence in ``extDatas``.
    ``time_stamper(signature_value) -> TimeStampToken`` asks a TSA to stamp the signature value.
    """
    return sign_tbs(
        data_hash=data_hash, property_info=property_info, seal=seal_der, signer_cert=signer.certificate,
        signer_key=signer.private_key, at=at, crls=crls, time_stamp=time_stamp, time_stamper=time_stamper,
    )  # fmt: skip


def sign_signed_data(content: bytes, signer: Sm2Signer, at: dt.datetime) -> bytes:
    """GB/T 35275 ``SignedData`` DER, detached, over ``content`` (e.g. an OFD ``Signature.xml``)."""
    return _sign_signed_data(
        content, signer_cert=signer.certificate, signer_key=signer.private_key, at=at, chain=signer.chain
    )


def detect(data: bytes) -> str:
    """``seal``, ``signature`` (SES), ``signed_data`` (GB/T 35275), ``raw_signature`` or ``unknown``."""
    return kind_of(data)


__all__ = [
    "Deviation",
    "Seal",
    "SealMaker",
    "SealSignature",
    "SesTrust",
    "SesVerification",
    "SignedData",
    "SignedDataVerification",
    "detect",
    "parse_seal",
    "parse_signature",
    "parse_signed_data",
    "sign_ses",
    "sign_signed_data",
    "verify_seal",
    "verify_ses",
    "verify_signed_data",
]
