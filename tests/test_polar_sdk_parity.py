"""Parity with Polar's official Python SDK (``polar-sdk`` 1.x, import ``polar``).

A client that nobody here wrote is the referee: for the same inputs, portalkit must put the
same method, URL, JSON body and credentials on the wire as the SDK's
``polar.customer_sessions.create(customer_id=...)`` / ``(external_customer_id=...)``, and
read the same answer into the same session, customer, URL and times, and the same errors.

The SDK builds its own ``httpx.Client`` (``Polar(...)._client._client``, with its base URL,
``Authorization`` and ``Polar-Version`` headers) and takes no client from its caller. So,
without any network, that one object is replaced by an ``httpx.Client`` with the same base
URL, headers and timeout over an ``httpx.MockTransport`` that records the request and
answers from memory. Everything the SDK does before the transport (its request building,
JSON encoding, headers) runs as shipped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import polar.v2026_10 as sdk_version
import pytest
from _mock import (
    POLAR_DOC_CUSTOMER,
    POLAR_DOC_EXTERNAL_ID,
    POLAR_DOC_RESPONSE,
    Script,
    both_modes,
    mint,
    reply,
)
from polar.base import PolarClientError, deserialize
from polar.v2026_10 import Polar as PolarSDK
from polar.v2026_10 import PolarAsync as PolarSDKAsync
from polar.v2026_10.errors import AmbiguousExternalCustomerID, HTTPValidationError
from polar.v2026_10.outputs import CustomerIndividual, CustomerSession, NotPermitted, Unauthorized

from portalkit import CustomerIdKind, Portal, PortalLink, PortalRequest, RetryPolicy, errors
from portalkit.providers.polar import Polar
from portalkit.sandbox import Sandbox
from portalkit.sandbox.twin import KeyKind

ACCESS_TOKEN = "polar_oat_parity_0123456789abcdef"
ORGANIZATION = "1dbfc517-0bbf-4301-9ba8-555ca42b9737"
RETURN_URL = "https://app.example.com/account"
ONCE = RetryPolicy(max_attempts=1)


class Recorder:
    """A MockTransport handler for the SDK's client: records, answers from memory."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        if self.body is None:
            return httpx.Response(self.status)
        return httpx.Response(self.status, json=self.body)


def sdk_client(recorder: Recorder, **options: Any) -> PolarSDK:
    client = PolarSDK(ACCESS_TOKEN, **options)
    theirs = client._client._client  # the SDK's own httpx.Client, configured by the SDK
    client._client._client = httpx.Client(
        base_url=theirs.base_url,
        headers=theirs.headers,
        timeout=theirs.timeout,
        transport=httpx.MockTransport(recorder),
    )
    theirs.close()
    return client


def sdk_async_client(recorder: Recorder, **options: Any) -> PolarSDKAsync:
    client = PolarSDKAsync(ACCESS_TOKEN, **options)
    theirs = client._client._client
    client._client._client = httpx.AsyncClient(
        base_url=theirs.base_url,
        headers=theirs.headers,
        timeout=theirs.timeout,
        transport=httpx.MockTransport(recorder),
    )
    return client


#: The same customer named both ways, with and without a return URL.
INPUTS = [
    pytest.param({"customer_id": POLAR_DOC_CUSTOMER}, id="customer_id"),
    pytest.param(
        {"customer_id": POLAR_DOC_CUSTOMER, "return_url": RETURN_URL}, id="customer_id+return"
    ),
    pytest.param({"external_customer_id": POLAR_DOC_EXTERNAL_ID}, id="external_customer_id"),
    pytest.param(
        {"external_customer_id": POLAR_DOC_EXTERNAL_ID, "return_url": RETURN_URL},
        id="external_customer_id+return",
    ),
]


def portalkit_request(inputs: dict[str, str]) -> PortalRequest:
    return_url = inputs.get("return_url")
    if "external_customer_id" in inputs:
        return PortalRequest.for_external_id(inputs["external_customer_id"], return_url=return_url)
    return PortalRequest(inputs["customer_id"], return_url=return_url)


def assert_same_wire(theirs: httpx.Request, ours: Any) -> None:
    assert ours.method == theirs.method == "POST"
    assert str(ours.url) == str(theirs.url)
    assert ours.json() == json.loads(theirs.content)
    for name in ("Authorization", "Polar-Version", "Polar-Organization", "Content-Type"):
        assert ours.headers.get(name) == theirs.headers.get(name), name


def test_the_pinned_version_is_the_sdk_clients() -> None:
    assert Polar.api_version == PolarSDK.version == sdk_version.PolarAsync.version


@both_modes
@pytest.mark.parametrize("environment", ["production", "sandbox"])
@pytest.mark.parametrize("inputs", INPUTS)
def test_portalkit_sends_what_the_sdk_sends(
    mode: str, environment: str, inputs: dict[str, str]
) -> None:
    recorder = Recorder(201, POLAR_DOC_RESPONSE)
    with sdk_client(recorder, environment=environment) as sdk:
        sdk.customer_sessions.create(**inputs)  # type: ignore[call-overload]
    [theirs] = recorder.sent

    script = Script(reply(201, POLAR_DOC_RESPONSE))
    provider = Polar(access_token=ACCESS_TOKEN, environment=environment)  # type: ignore[arg-type]
    mint(mode, provider, script, portalkit_request(inputs))

    assert_same_wire(theirs, script.only)
    assert theirs.url.path == "/v1/customer-sessions/"  # the trailing slash, both ways


@both_modes
def test_organization_and_base_url_as_the_sdk_sends_them(mode: str) -> None:
    base = "http://127.0.0.1:8702"
    recorder = Recorder(201, POLAR_DOC_RESPONSE)
    with sdk_client(recorder, base_url=base, organization_id=ORGANIZATION) as sdk:
        sdk.customer_sessions.create(customer_id=POLAR_DOC_CUSTOMER)
    [theirs] = recorder.sent

    script = Script(reply(201, POLAR_DOC_RESPONSE))
    provider = Polar(access_token=ACCESS_TOKEN, base_url=base, organization_id=ORGANIZATION)
    mint(mode, provider, script, PortalRequest(POLAR_DOC_CUSTOMER))

    assert theirs.headers["Polar-Organization"] == ORGANIZATION
    assert_same_wire(theirs, script.only)


def test_the_async_sdk_sends_the_same_too() -> None:
    recorder = Recorder(201, POLAR_DOC_RESPONSE)

    async def run() -> None:
        async with sdk_async_client(recorder, environment="sandbox") as sdk:
            await sdk.customer_sessions.create(external_customer_id=POLAR_DOC_EXTERNAL_ID)

    asyncio.run(run())
    [theirs] = recorder.sent
    script = Script(reply(201, POLAR_DOC_RESPONSE))
    provider = Polar(access_token=ACCESS_TOKEN, environment="sandbox")
    mint("async", provider, script, PortalRequest.for_external_id(POLAR_DOC_EXTERNAL_ID))
    assert_same_wire(theirs, script.only)


# -- the same reading of an answer ---------------------------------------------------------


def sdk_answer(status: int, body: Any, **inputs: str) -> Any:
    with sdk_client(Recorder(status, body)) as sdk:
        return sdk.customer_sessions.create(**inputs)  # type: ignore[call-overload]


def portalkit_answer(status: int, body: Any, request: PortalRequest) -> PortalLink:
    return mint("sync", Polar(access_token=ACCESS_TOKEN), Script(reply(status, body)), request)


@pytest.mark.parametrize("kind", list(CustomerIdKind))
def test_the_documented_answer_reads_the_same(kind: CustomerIdKind) -> None:
    # The SDK deserializes the sample into its typed CustomerSession: the sample is true to
    # Polar's schema, and portalkit reads the same values out of it.
    if kind is CustomerIdKind.EXTERNAL:
        theirs = sdk_answer(201, POLAR_DOC_RESPONSE, external_customer_id=POLAR_DOC_EXTERNAL_ID)
        ours = portalkit_answer(
            201, POLAR_DOC_RESPONSE, PortalRequest.for_external_id(POLAR_DOC_EXTERNAL_ID)
        )
    else:
        theirs = sdk_answer(201, POLAR_DOC_RESPONSE, customer_id=POLAR_DOC_CUSTOMER)
        ours = portalkit_answer(201, POLAR_DOC_RESPONSE, PortalRequest(POLAR_DOC_CUSTOMER))

    assert ours.session_id == theirs.id
    assert ours.customer_id == theirs.customer_id == theirs.customer.id
    assert ours.url == theirs.customer_portal_url
    assert ours.return_url == theirs.return_url
    # The SDK keeps times as strings; they name the same instants.
    assert ours.expires_at == datetime.fromisoformat(theirs.expires_at)
    assert ours.created_at == datetime.fromisoformat(theirs.created_at)
    assert ours.raw["customer"]["external_id"] == theirs.customer.external_id
    assert ours.raw["customer"]["email"] == theirs.customer.email


@pytest.mark.parametrize(
    ("inputs", "loc"),
    [
        ({"customer_id": POLAR_DOC_CUSTOMER}, "customer_id"),
        ({"external_customer_id": POLAR_DOC_EXTERNAL_ID}, "external_customer_id"),
    ],
)
def test_an_unknown_customer_reads_the_same(inputs: dict[str, str], loc: str) -> None:
    body = {
        "detail": [
            {
                "loc": ["body", loc],
                "msg": "Customer does not exist.",
                "type": "value_error",
                "input": "x",
            }
        ]
    }
    with pytest.raises(HTTPValidationError) as sdk_caught:
        sdk_answer(422, body, **inputs)
    [item] = sdk_caught.value.error.detail or []

    with pytest.raises(errors.CustomerNotFound) as caught:
        portalkit_answer(422, body, portalkit_request(inputs))
    assert caught.value.code == item.type
    assert caught.value.vendor_message == f"{item.loc[1]}: {item.msg}"


def test_an_ambiguous_external_id_reads_the_same() -> None:
    body = {"error": "AmbiguousExternalCustomerID", "detail": "matches several customers"}
    with pytest.raises(AmbiguousExternalCustomerID) as sdk_caught:
        sdk_answer(409, body, external_customer_id=POLAR_DOC_EXTERNAL_ID)
    with pytest.raises(errors.AmbiguousCustomer) as caught:
        portalkit_answer(409, body, PortalRequest.for_external_id(POLAR_DOC_EXTERNAL_ID))
    assert caught.value.code == sdk_caught.value.error.error
    assert caught.value.vendor_message == sdk_caught.value.error.detail


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, errors.AuthenticationFailed), (403, errors.PermissionDenied)],
)
def test_other_refusals_are_client_errors_in_both(status: int, error: type[Exception]) -> None:
    body = {"error": "Unauthorized", "detail": "no"}
    with pytest.raises(PolarClientError) as sdk_caught:
        sdk_answer(status, body, customer_id=POLAR_DOC_CUSTOMER)
    assert sdk_caught.value.status_code == status
    with pytest.raises(error):
        mint(
            "sync",
            Polar(access_token=ACCESS_TOKEN),
            Script(reply(status, body)),
            PortalRequest(POLAR_DOC_CUSTOMER),
            retry=ONCE,
        )


# -- the SDK pointed at the sandbox: it cannot tell the twin from Polar ----------------------


@pytest.fixture(scope="module")
def twin_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def served(twin_sandbox: Sandbox) -> Iterator[Sandbox]:
    twin_sandbox.reset()
    yield twin_sandbox
    twin_sandbox.reset()


def sandbox_sdk(sandbox: Sandbox, key: KeyKind = "valid", **options: Any) -> PolarSDK:
    """The SDK as shipped (its own httpx client) with the base URL at the sandbox."""
    token = sandbox.credentials("polar", key)["access_token"]
    return PolarSDK(token, base_url=sandbox.base_url("polar"), **options)


@pytest.mark.parametrize("named_by", ["customer_id", "external_customer_id"])
def test_the_sdk_creates_a_session_at_the_twin(served: Sandbox, named_by: str) -> None:
    customer = served.customers("polar")[0]
    inputs = (
        {"customer_id": customer}
        if named_by == "customer_id"
        else {"external_customer_id": "usr_alice"}
    )
    with sandbox_sdk(served) as sdk:
        session = sdk.customer_sessions.create(**inputs, return_url=RETURN_URL)  # type: ignore[call-overload]

    assert isinstance(session, CustomerSession)
    assert isinstance(session.customer, CustomerIndividual)
    assert session.customer_id == session.customer.id == customer
    assert session.customer.external_id == "usr_alice"
    assert session.return_url == RETURN_URL
    assert session.token.startswith("polar_cst_")
    created = datetime.fromisoformat(session.created_at)
    assert datetime.fromisoformat(session.expires_at) - created == timedelta(hours=1)
    url = httpx.URL(session.customer_portal_url)
    assert str(url).startswith(f"{served.url}/polar/portalkit-sandbox/portal?")
    assert url.params["customer_session_token"] == session.token
    assert url.params["email"] == session.customer.email
    # What the SDK sent is what the twin minted from: one session, for that customer.
    [minted] = served.sessions("polar")
    assert (minted.id, minted.customer_id) == (session.id, customer)
    [received] = served.received("polar")
    assert received.headers["polar-version"] == PolarSDK.version


async def test_the_async_sdk_creates_a_session_at_the_twin(served: Sandbox) -> None:
    token = served.credentials("polar")["access_token"]
    async with PolarSDKAsync(token, base_url=served.base_url("polar")) as sdk:
        session = await sdk.customer_sessions.create(external_customer_id="usr_bob")
    assert session.customer.external_id == "usr_bob"


def test_portalkit_and_the_sdk_read_the_twin_alike(served: Sandbox) -> None:
    customer = served.customers("polar")[1]
    with sandbox_sdk(served) as sdk:
        theirs = sdk.customer_sessions.create(customer_id=customer)
    with Portal(served.provider("polar")) as portal:
        ours = portal.create_link(PortalRequest(customer))
    assert ours.customer_id == theirs.customer_id
    assert set(ours.raw) == {field.name for field in dataclasses.fields(CustomerSession)}
    assert ours.raw["customer"].keys() == {f.name for f in dataclasses.fields(CustomerIndividual)}


@pytest.mark.parametrize(
    ("inputs", "loc"),
    [
        ({"customer_id": "00000000-0000-4000-8000-00000000dead"}, "customer_id"),
        ({"external_customer_id": "usr_portalkit_nobody"}, "external_customer_id"),
    ],
)
def test_an_unknown_customer_at_the_twin_is_the_sdks_validation_error(
    served: Sandbox, inputs: dict[str, str], loc: str
) -> None:
    with sandbox_sdk(served) as sdk, pytest.raises(HTTPValidationError) as caught:
        sdk.customer_sessions.create(**inputs)  # type: ignore[call-overload]
    [item] = caught.value.error.detail or []
    assert (item.loc, item.msg, item.type) == (
        ["body", loc],
        "Customer does not exist.",
        "value_error",
    )


def test_a_malformed_field_at_the_twin_is_the_sdks_validation_error(served: Sandbox) -> None:
    with sandbox_sdk(served) as sdk, pytest.raises(HTTPValidationError) as caught:
        sdk.customer_sessions.create(customer_id="not-a-uuid")
    detail = caught.value.error.detail or []
    assert ["body", "CustomerSessionCustomerIDCreate", "customer_id"] in [i.loc for i in detail]


def test_an_ambiguous_external_id_at_the_twin_is_the_sdks_409(served: Sandbox) -> None:
    with sandbox_sdk(served) as sdk, pytest.raises(AmbiguousExternalCustomerID) as caught:
        sdk.customer_sessions.create(external_customer_id="usr_shared")
    assert caught.value.status_code == 409
    assert caught.value.error.error == "AmbiguousExternalCustomerID"
    # Polar-Organization (the SDK's organization_id=) picks one of the two customers.
    with sandbox_sdk(served) as sdk:
        first = sdk.customer_sessions.create(customer_id=served.customers("polar")[0])
    with sandbox_sdk(served, organization_id=first.customer.organization_id) as sdk:
        picked = sdk.customer_sessions.create(external_customer_id="usr_shared")
    assert picked.customer.organization_id == first.customer.organization_id


@pytest.mark.parametrize(
    ("key", "status", "model"), [("wrong", 401, Unauthorized), ("no_scope", 403, NotPermitted)]
)
def test_refusals_at_the_twin_are_the_sdks_error_models(
    served: Sandbox, key: KeyKind, status: int, model: type[Any]
) -> None:
    with sandbox_sdk(served, key) as sdk, pytest.raises(PolarClientError) as caught:
        sdk.customer_sessions.create(customer_id=served.customers("polar")[0])
    assert caught.value.status_code == status
    # The endpoint maps no model for these; the body is Polar's PolarError shape all the same.
    parsed = deserialize(json.loads(caught.value.error), model)
    assert parsed.error == model.__name__
    assert served.sessions("polar") == []
