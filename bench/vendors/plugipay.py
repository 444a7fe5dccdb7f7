"""Plugipay: the answer recorded in cassettes/plugipay/test_mints_a_link.yaml. A hand-written
integration signs every request (HMAC-SHA256 over timestamp, method, path and body hash; see
docs/providers/plugipay.md), so the raw side does too."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from bench._vendor import VendorBench

CUSTOMER = "cus_01J9CASSETTE0000000000PGAY"
SESSION = "ps_01M7Y7B58ZRMHVW6KTVESW1PNS"
ACCOUNT = "acc_01HZSEED00000000000000ACCT"


def sign(
    credentials: Mapping[str, str], method: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    timestamp = str(int(time.time()))
    message = f"{timestamp}\n{method}\n{path}\n{hashlib.sha256(body).hexdigest()}"
    secret = credentials["key_secret"].encode()
    headers["X-Plugipay-Timestamp"] = timestamp
    headers["X-Plugipay-Signature"] = (
        "v1=" + hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
    )


BENCH = VendorBench(
    credentials={"key_id": "pk_bench_key_01", "key_secret": "sk_bench_secret_0123456789"},
    customer_id=CUSTOMER,
    request={"return_url": "https://app.example.com/account/billing"},
    status=201,
    answer={
        "data": {
            "id": SESSION,
            "arn": f"arn:plugipay:{ACCOUNT}:portal-session/{SESSION}",
            "accountId": ACCOUNT,
            "customerId": CUSTOMER,
            "url": f"https://plugipay.com/portal/{SESSION}#t=tok_bench_0123456789",
            "returnUrl": "https://app.example.com/account/billing",
            "expiresAt": "2026-11-21T05:10:26.751Z",
            "createdAt": "2026-11-21T04:55:26.751Z",
        }
    },
    url_at=("data", "url"),
    sign=sign,
)
