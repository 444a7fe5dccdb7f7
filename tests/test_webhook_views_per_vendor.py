"""Every registered vendor's deliveries through the webhook views of every framework
(Starlette, FastAPI, Flask, Django): the vendor's own example delivery reaches the handler
once and is answered 200; a tampered body, a wrong secret, a stale timestamp, another
vendor's delivery, an oversized body and a body that is not JSON are answered 400 with no
detail, and never reach the handler. The framework plumbing is tests/test_web_webhooks.py's;
the vendors come from the registry, so no vendor is named here."""

from __future__ import annotations

import json

import pytest
from _webhook_cases import NOW, WEBHOOK_VENDORS, cases, made_up_env, signed_headers
from test_web_webhooks import Handler, Serve, django_site, serve  # noqa: F401 -- fixtures

from portalkit import Webhooks, get_vendor_webhooks

#: A small limit, so an oversized body is cheap to send.
LIMIT = 64 * 1024


def receiver(vendor: str) -> Webhooks:
    return Webhooks.from_env(
        made_up_env(vendor), provider=vendor, clock=lambda: NOW, max_body_bytes=LIMIT
    )


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_each_vendors_deliveries_through_each_framework(serve: Serve, vendor: str) -> None:  # noqa: F811
    case = cases(vendor)[0]
    handler = Handler()
    served = serve(receiver(vendor), handler)

    valid = served.post(case.body, signed_headers(case))
    assert (valid.status, len(handler.events)) == (200, 1)
    assert handler.events[0].provider == vendor
    assert handler.events[0].summary()["id"] == case.expect["id"]
    again = served.post(case.body, signed_headers(case))  # a redelivery: handled once
    assert (again.status, len(handler.events)) == (200, 1)

    refused: dict[str, tuple[bytes, dict[str, str]]] = {
        "wrong secret": (case.body, signed_headers(case, suffix="-other")),
        "oversized": (
            (big := case.body + b" " * LIMIT),
            signed_headers(case, body=big),
        ),
        "not json": (b"not json", signed_headers(case, body=b"not json")),
    }
    scheme = get_vendor_webhooks(vendor).signature
    if scheme.signs_body:
        tampered = json.dumps({**case.payload, "tampered": True}).encode()
        refused["tampered body"] = (tampered, signed_headers(case))
    if scheme.has_timestamp:
        stale_at = NOW - int(scheme.tolerance or 0) - 60
        refused["stale"] = (case.body, signed_headers(case, timestamp=stale_at))
    for other in WEBHOOK_VENDORS:
        if other != vendor:
            theirs = cases(other)[0]
            refused[f"{other}'s delivery"] = (theirs.body, signed_headers(theirs))
    for what, (body, headers) in refused.items():
        answer = served.post(body, headers)
        assert answer.status == 400, what
        assert answer.text == "Rejected.", what  # no detail
    assert len(handler.events) == 1
