"""QR payload codec (``EL2:`` = COSE_Sign1 → zlib → Base45), rendering and image decoding.

The codec modules (:mod:`.base45`, :mod:`.cbor`, :mod:`.cose`, :mod:`.claims`,
:mod:`.payload`) import no image libraries: they are on the kiosk's hot path.
"""
