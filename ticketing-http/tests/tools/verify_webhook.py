#!/usr/bin/env python3
"""Verifies Standard Webhooks signatures with nothing but Python's standard library: an
implementation independent of the server's, written from the specification.

Reads a JSON list of {"secret", "id", "timestamp", "body", "signature"} on stdin and prints a
JSON list of booleans: whether each signature header holds a valid `v1,` signature of
"{id}.{timestamp}.{body}" under the secret (`whsec_` then base64 of the key).
"""

import base64
import hashlib
import hmac
import json
import sys


def expected(secret: str, msg_id: str, timestamp: str, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body.encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def main() -> None:
    cases = json.load(sys.stdin)
    verdicts = []
    for case in cases:
        want = expected(case["secret"], case["id"], str(case["timestamp"]), case["body"])
        verdicts.append(any(hmac.compare_digest(want, given) for given in case["signature"].split(" ")))
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()
