"""Verify a signed PDF with endesive (run in a subprocess): prints one JSON line per signature.

oscrypto 1.3.0 (under endesive's certvalidator) cannot parse the version string of
OpenSSL 3.0.10 and later ("3.0.19": two-digit patch level) and refuses to load; its
upstream fix widens one regular expression. That fix is applied here to the module
source before import, and nothing else is changed.
"""

import importlib.util
import json
import sys


def _patch_oscrypto() -> None:
    for name in ("oscrypto._openssl._libcrypto_cffi", "oscrypto._openssl._libcrypto_ctypes"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            src = fh.read().replace(
                "\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b", "\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b"
            )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            exec(compile(src, spec.origin, "exec"), module.__dict__)  # the library's own source, one regex widened
        except Exception:  # the other backend may not be loadable: leave it to the import system
            del sys.modules[name]


def main() -> None:
    _patch_oscrypto()
    from endesive import pdf

    with open(sys.argv[1], "rb") as fh:
        data = fh.read()
    roots = []
    for path in sys.argv[2:]:
        with open(path, "rb") as fh:
            roots.append(fh.read())
    for result in pdf.verify(data, roots):
        if result is None:
            continue
        print(json.dumps({"hashok": result.hashok, "signatureok": result.signatureok, "certok": result.certok}))


if __name__ == "__main__":
    main()
