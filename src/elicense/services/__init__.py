"""Home-level services: operations over an issuer home's files (keys, certificates, ``home.json``).

Publishing trust lists and bundles (:mod:`~elicense.services.trust`), status lists and CRLs and
the registry's status changes (:mod:`~elicense.services.status`), GB/T 38540 seals
(:mod:`~elicense.services.seals`). They sit above :mod:`elicense.home`, which owns the files; the
packages below (``trust``, ``status``, ``seal``) take explicit keys, certificates and signers and
never import the home.
"""
