"""Trust: which authorities may issue which licences, with which keys.

:mod:`.store` is the IO-free core the verifier consumes; :mod:`.file` reads and
writes the trust file.
"""

from elicense.trust.store import TrustedAuthority, TrustedKey, TrustStore

__all__ = ["TrustStore", "TrustedAuthority", "TrustedKey"]
