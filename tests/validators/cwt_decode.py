"""Decode elicense QR payloads with python-cwt (run in its own environment: python-cwt pins cbor2 < 6).

stdin: JSON {"keys": [[kid hex, public key PEM], ...], "tokens": [[name, COSE hex], ...], "verify": bool}
stdout: JSON {name: {"claims": {key: value-or-type}} | {"error": "..."}}
With ``verify`` false (SM2: python-cwt has no SM2), the claims set is only checked with
``cwt.Claims.new`` (types of the registered claims).
"""

import json
import sys

import cbor2
import cwt
from cwt import Claims, COSEKey


def main() -> None:
    job = json.load(sys.stdin)
    keys = [COSEKey.from_pem(pem.encode(), alg="ES256", kid=bytes.fromhex(kid)) for kid, pem in job["keys"]]
    out = {}
    for name, cose_hex in job["tokens"]:
        data = bytes.fromhex(cose_hex)
        try:
            if job["verify"]:
                claims = cwt.decode(data, keys)
            else:
                payload = cbor2.loads(data).value[2]
                claims = Claims.new(cbor2.loads(payload)).to_dict()
            out[name] = {"claims": {str(k): v if isinstance(v, int) else type(v).__name__ for k, v in claims.items()}}
        except Exception as exc:  # report, the test decides
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
