"""Cryptography layer: algorithm allow-list, keys and signers, issuer PKI profiles.

Layering (as in pyca/cryptography's ``hazmat``): :mod:`.algorithms` is the only
module that calls signature primitives; :mod:`.keys` holds keys and the
:class:`~elicense.crypto.keys.Signer` protocol; :mod:`.pki` builds and checks
certificates. Everything above uses these, never the primitives directly.
"""

from elicense.crypto.algorithms import Algorithm, AlgorithmPolicy
from elicense.crypto.keys import Signer, SoftwareSigner, key_id

__all__ = ["Algorithm", "AlgorithmPolicy", "Signer", "SoftwareSigner", "key_id"]
