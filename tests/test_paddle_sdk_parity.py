"""Parity with Paddle's official Python SDK (``paddle-python-sdk``, import ``paddle_billing``).

A client that nobody here wrote is the referee: for the same inputs, portalkit must put the
same method, URL and JSON body on the wire as the SDK's
``client.customer_portal_sessions.create(customer_id, CreateCustomerPortalSession(...))``,
and read the documented example answer into the same session, URLs and time.

The SDK talks through ``requests``, not httpx. Without any network, its ``requests.Session``
(``client.client``, built by the SDK with its own auth headers) gets a transport adapter
mounted for http:// and https:// that records the ``PreparedRequest`` and answers from
memory. That replaces the SDK's retrying ``HTTPAdapter`` only, so everything the SDK does
before the transport (URL joining, JSON encoding, headers) runs as shipped.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from _mock import (
    PADDLE_DOC_CUSTOMER,
    PADDLE_DOC_RESPONSE,
    PADDLE_DOC_SUBSCRIPTION,
    Script,
    both_modes,
    mint,
    reply,
)
from paddle_billing import Client, Environment, Options
from paddle_billing.Entities.CustomerPortalSession import CustomerPortalSession
from paddle_billing.Exceptions.ApiError import ApiError
from paddle_billing.Resources.CustomerPortalSessions.Operations import (
    CreateCustomerPortalSession,
)
from requests.structures import CaseInsensitiveDict

from portalkit import Action, PortalLink, PortalRequest, RetryPolicy, errors
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle

API_KEY = "pdl_sdbx_apikey_01hparity"
SUB_B = "sub_01h04vsc0qhwtsbsxh3422wjs5"


class RecordingAdapter(requests.adapters.BaseAdapter):
    """A requests transport that keeps what it was sent and answers from memory."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.sent: list[requests.PreparedRequest] = []

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = self.status
        response.reason = "test"
        response._content = json.dumps(self.body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **self.headers})
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def sdk_client(environment: str, adapter: RecordingAdapter) -> Client:
    client = Client(API_KEY, options=Options(Environment(environment)))
    for prefix in ("https://", "http://"):
        client.client.mount(prefix, adapter)
    return client


def sdk_operation(subscription_ids: list[str]) -> CreateCustomerPortalSession:
    if subscription_ids:
        return CreateCustomerPortalSession(subscription_ids=subscription_ids)
    return CreateCustomerPortalSession()  # the field left out, as an SDK user would


def portalkit_request(subscription_ids: list[str]) -> PortalRequest:
    return PortalRequest(PADDLE_DOC_CUSTOMER, subscription_ids=subscription_ids)


def sdk_json(request: requests.PreparedRequest) -> Any:
    assert request.body is not None, "the SDK sent no body"
    return json.loads(request.body)


SUBSCRIPTIONS = [
    pytest.param([], id="no-subscriptions"),
    pytest.param([PADDLE_DOC_SUBSCRIPTION], id="one-subscription"),
    pytest.param([SUB_B, PADDLE_DOC_SUBSCRIPTION], id="two-subscriptions"),
]


@both_modes
@pytest.mark.parametrize("environment", ["sandbox", "production"])
@pytest.mark.parametrize("subscription_ids", SUBSCRIPTIONS)
def test_portalkit_sends_what_the_sdk_sends(
    mode: str, environment: str, subscription_ids: list[str]
) -> None:
    adapter = RecordingAdapter(201, PADDLE_DOC_RESPONSE)
    sdk = sdk_client(environment, adapter)
    sdk.customer_portal_sessions.create(PADDLE_DOC_CUSTOMER, sdk_operation(subscription_ids))
    [theirs] = adapter.sent

    script = Script(reply(201, PADDLE_DOC_RESPONSE))
    mint(
        mode,
        Paddle(api_key=API_KEY, environment=environment),
        script,
        portalkit_request(subscription_ids),
    )
    ours = script.only

    assert ours.method == theirs.method == "POST"
    assert ours.url == httpx.URL(theirs.url or "")  # scheme, host and path
    assert ours.url.path == f"/customers/{PADDLE_DOC_CUSTOMER}/portal-sessions"
    assert ours.json() == sdk_json(theirs)
    assert ours.headers["Authorization"] == theirs.headers["Authorization"]
    assert ours.headers["Content-Type"] == theirs.headers["Content-Type"]


def test_the_sdk_capture_is_real() -> None:
    """The referee is awake: a different input changes what the SDK sends."""
    adapter = RecordingAdapter(201, PADDLE_DOC_RESPONSE)
    sdk = sdk_client("sandbox", adapter)
    sdk.customer_portal_sessions.create(PADDLE_DOC_CUSTOMER, sdk_operation([SUB_B]))
    sdk.customer_portal_sessions.create(PADDLE_DOC_CUSTOMER, sdk_operation([]))
    first, second = adapter.sent
    assert sdk_json(first) == {"subscription_ids": [SUB_B]}
    assert sdk_json(second) == {}
    assert first.url == (
        f"https://sandbox-api.paddle.com/customers/{PADDLE_DOC_CUSTOMER}/portal-sessions"
    )


@both_modes
def test_the_documented_answer_reads_the_same(mode: str) -> None:
    adapter = RecordingAdapter(201, PADDLE_DOC_RESPONSE)
    sdk = sdk_client("production", adapter)
    theirs: CustomerPortalSession = sdk.customer_portal_sessions.create(
        PADDLE_DOC_CUSTOMER, sdk_operation([PADDLE_DOC_SUBSCRIPTION])
    )
    ours: PortalLink = mint(
        mode,
        Paddle(api_key=API_KEY),
        Script(reply(201, PADDLE_DOC_RESPONSE)),
        portalkit_request([PADDLE_DOC_SUBSCRIPTION]),
    )

    assert ours.session_id == theirs.id == "cpls_01h4ge9r64c22exjsx0fy8b48b"
    assert ours.customer_id == theirs.customer_id
    assert ours.url == theirs.urls.general.overview
    assert ours.deep_link(Action.OVERVIEW) == theirs.urls.general.overview
    assert ours.created_at == theirs.created_at
    assert ours.created_at is not None
    assert ours.created_at.utcoffset() is not None
    assert [s.id for s in theirs.urls.subscriptions] == [PADDLE_DOC_SUBSCRIPTION]
    for subscription in theirs.urls.subscriptions:
        assert (
            ours.deep_link(Action.CANCEL_SUBSCRIPTION, subscription.id)
            == subscription.cancel_subscription
        )
        assert (
            ours.deep_link(Action.UPDATE_PAYMENT_METHOD, subscription.id)
            == subscription.update_subscription_payment_method
        )
    # 1 overview + 2 links per subscription: nothing portalkit made up.
    assert len(ours.deep_links) == 1 + 2 * len(theirs.urls.subscriptions)
    assert ours.expires_at is None  # neither the doc nor the SDK has an expiry


@both_modes
@pytest.mark.parametrize(
    ("status", "error"),
    [(400, errors.InvalidRequest), (404, errors.CustomerNotFound), (429, errors.RateLimited)],
)
def test_an_error_reads_the_same(mode: str, status: int, error: type[errors.PortalError]) -> None:
    body = {
        "error": {
            "type": "request_error",
            "code": "invalid_field",
            "detail": "Invalid request.",
            "documentation_url": "https://developer.paddle.com/v1/errors/shared/invalid_field",
            "errors": [{"field": "subscription_ids[0]", "message": "not found"}],
        },
        "meta": {"request_id": "3f9b5c2e-0f8a-4a4e-9a53-5b0b7c1b2d11"},
    }
    headers = {"Retry-After": "12"}
    adapter = RecordingAdapter(status, body, headers)
    sdk = sdk_client("sandbox", adapter)
    with pytest.raises(ApiError) as sdk_caught:
        sdk.customer_portal_sessions.create(
            PADDLE_DOC_CUSTOMER, sdk_operation([PADDLE_DOC_SUBSCRIPTION])
        )
    theirs = sdk_caught.value

    with pytest.raises(error) as caught:
        mint(
            mode,
            Paddle(api_key=API_KEY, environment="sandbox"),
            Script(reply(status, body, headers=headers)),
            portalkit_request([PADDLE_DOC_SUBSCRIPTION]),
            retry=RetryPolicy(max_attempts=1),
        )
    ours = caught.value

    assert ours.code == theirs.error_code
    assert ours.vendor_message is not None
    assert ours.vendor_message.startswith(theirs.detail)
    for field_error in theirs.field_errors:
        assert f"{field_error.field}: {field_error.error}" in ours.vendor_message
    assert ours.request_id == "3f9b5c2e-0f8a-4a4e-9a53-5b0b7c1b2d11"
    if isinstance(ours, errors.RateLimited):
        assert ours.retry_after == theirs.retry_after == 12
