"""elicense: issue, sign, verify and revoke electronic licences (电子证照) and seals.

The top-level package stays import-light: the CLI's QR verify path must not pull
in PDF, image or XML stacks. Import what you need from the submodules
(``elicense.verify``, ``elicense.issue``, ``elicense.identifiers``, ...).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
