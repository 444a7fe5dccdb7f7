"""The multi-request exchange (``MultiStepProvider.exchange``), through Portal and AsyncPortal.

A toy vendor whose link takes several requests -- read the customer, then each subscription
asked for -- driven over a MockTransport: every step is sent with the same machinery as a
one-request create (retries per step with that step's request object, one deadline for the
whole exchange, the body limit on each response, the client's headers), and a step's final
error is thrown into the exchange, which may translate it or let it propagate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from _mock import MODES, both_modes, record_sleeps

from portalkit import (
    Action,
    AsyncPortal,
    DeepLink,
    Feature,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit._protocol import Exchange, MultiStepProvider
from portalkit._wire import decode_json_object, error_body, vendor_error
from portalkit.errors import InvalidRequest, InvalidResponse, PortalError

BASE = "https://api.toy.test"
PORTAL = "https://portal.toy.test/billing?signature=s3cr3t"


class Toy:
    """A vendor whose link is read, not minted: GET the customer (its portal link), then GET
    each subscription asked for (its own deep link, handed out only to its owner)."""

    name: ClassVar[str] = "toy"
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.SUBSCRIPTION_DEEP_LINKS})
    portal_hosts: ClassVar[tuple[str, ...]] = ("portal.toy.test",)

    def __init__(self, *, skip_missing: bool = False) -> None:
        self.skip_missing = skip_missing
        self.started = 0  # how many exchanges were begun (a replay begins one more)
        self.thrown: list[PortalError] = []  # the errors the shell threw in

    def build_request(self, request: PortalRequest) -> httpx.Request:
        if not request.customer_id.startswith("c"):
            raise InvalidRequest.local("customer_id", "must start with 'c'", provider=self.name)
        return httpx.Request("GET", f"{BASE}/customers/{request.customer_id}")

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        body = decode_json_object(response, self.name)
        url = body.get("portal")
        if not isinstance(url, str):
            raise InvalidResponse("toy sent no portal link", provider=self.name)
        return PortalLink(
            provider=self.name,
            session_id=request.customer_id,
            customer_id=request.customer_id,
            url=url,
            request_id=response.headers.get("x-request-id"),
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        body = error_body(response)
        return vendor_error(
            self.name,
            response,
            code=body.get("code"),
            message=body.get("message"),
            request_id=response.headers.get("x-request-id"),
        )

    def exchange(self, request: PortalRequest) -> Exchange:
        self.started += 1
        for index, subscription_id in enumerate(request.subscription_ids):
            if not subscription_id.startswith("s"):  # validated before the first yield
                raise InvalidRequest.local(
                    f"subscription_ids[{index}]", "must start with 's'", provider=self.name
                )
        link = self.parse_response((yield self.build_request(request)), request)
        deep_links: list[DeepLink] = []
        for subscription_id in request.subscription_ids:
            try:
                response = yield httpx.Request("GET", f"{BASE}/subscriptions/{subscription_id}")
            except errors.CustomerNotFound as error:
                self.thrown.append(error)
                if self.skip_missing:
                    continue
                # A 404 here is about the subscription, not the customer.
                raise InvalidRequest(
                    f"toy has no subscription {subscription_id!r}",
                    field="subscription_ids",
                    provider=self.name,
                    status=error.status,
                    request_id=error.request_id,
                ) from error
            except PortalError as error:
                self.thrown.append(error)
                raise
            body = decode_json_object(response, self.name)
            if body.get("owner") != request.customer_id or not isinstance(body.get("url"), str):
                raise InvalidResponse("toy sent an unusable subscription", provider=self.name)
            deep_links.append(DeepLink(Action.UPDATE_PAYMENT_METHOD, subscription_id, body["url"]))
            link = PortalLink(
                provider=self.name,
                session_id=link.session_id,
                customer_id=link.customer_id,
                url=link.url,
                deep_links=tuple(deep_links),
                request_id=response.headers.get("x-request-id"),  # the last response's
            )
        return link


Answer = Callable[[httpx.Request], httpx.Response]


def ok(body: dict[str, Any], request_id: str = "req_ok", **headers: str) -> Answer:
    return lambda request: httpx.Response(
        200, json=body, headers={"x-request-id": request_id, **headers}
    )


def status(code: int, request_id: str = "req_err") -> Answer:
    return lambda request: httpx.Response(
        code, json={"code": f"e{code}", "message": "no"}, headers={"x-request-id": request_id}
    )


CUSTOMER = ok({"portal": PORTAL}, "req_customer")


def subscription(subscription_id: str, owner: str = "c1", request_id: str = "req_sub") -> Answer:
    url = f"https://portal.toy.test/subscription/{subscription_id}?signature=x"
    return ok({"owner": owner, "url": url}, request_id)


class Wire:
    """A MockTransport handler answering in order, keeping each request object it was sent
    (the same object on every retry of a step) and, per answer, an optional delay."""

    def __init__(self, mode: str, *answers: Answer, delay: float = 0.0) -> None:
        self.mode = mode
        self.answers = list(answers)
        self.delay = delay
        self.requests: list[httpx.Request] = []
        self.timeouts: list[dict[str, float]] = []

    @property
    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    def __call__(self, request: httpx.Request) -> Any:
        self.requests.append(request)
        self.timeouts.append(dict(request.extensions["timeout"]))
        if len(self.requests) > len(self.answers):
            pytest.fail(f"unexpected request #{len(self.requests)}: {request.url.path}")
        answer = self.answers[len(self.requests) - 1]
        if self.mode == "sync":
            time.sleep(self.delay)
            return answer(request)

        async def later() -> httpx.Response:
            await asyncio.sleep(self.delay)
            return answer(request)

        return later()


def create(
    mode: str, provider: PortalProvider, wire: Wire, request: PortalRequest, **options: Any
) -> PortalLink:
    transport = httpx.MockTransport(wire)
    headers = {"X-App": "shop"}  # a client default header: merged into every step
    if mode == "sync":
        with (
            httpx.Client(transport=transport, headers=headers) as client,
            Portal(provider, http_client=client, **options) as portal,
        ):
            return portal.create_link(request)

    async def run() -> PortalLink:
        async with (
            httpx.AsyncClient(transport=transport, headers=headers) as client,
            AsyncPortal(provider, http_client=client, **options) as portal,
        ):
            return await portal.create_link(request)

    return asyncio.run(run())


def test_the_toy_is_a_multi_step_provider() -> None:
    assert isinstance(Toy(), MultiStepProvider)
    assert isinstance(Toy(), PortalProvider)


@both_modes
def test_several_steps_in_order(mode: str) -> None:
    wire = Wire(mode, CUSTOMER, subscription("s1"), subscription("s2", request_id="req_last"))
    toy = Toy()
    link = create(mode, toy, wire, PortalRequest("c1", subscription_ids=["s1", "s2"]))
    assert wire.paths == ["/customers/c1", "/subscriptions/s1", "/subscriptions/s2"]
    assert link.url == PORTAL
    assert [(d.subscription_id, d.url.split("?")[0]) for d in link.deep_links] == [
        ("s1", "https://portal.toy.test/subscription/s1"),
        ("s2", "https://portal.toy.test/subscription/s2"),
    ]
    assert link.request_id == "req_last"  # the last response's
    assert link.idempotency_key is None  # the toy declares no idempotency keys
    assert all(request.headers["X-App"] == "shop" for request in wire.requests)
    assert toy.started == 1
    assert toy.thrown == []


@both_modes
def test_one_step_when_nothing_more_is_needed(mode: str) -> None:
    wire = Wire(mode, CUSTOMER)
    link = create(mode, Toy(), wire, PortalRequest("c1"))
    assert wire.paths == ["/customers/c1"]
    assert link.request_id == "req_customer"


@both_modes
def test_the_exchange_validates_before_anything_is_sent(mode: str) -> None:
    wire = Wire(mode)
    with pytest.raises(InvalidRequest) as caught:
        create(mode, Toy(), wire, PortalRequest("c1", subscription_ids=["x1"]))
    assert caught.value.field == "subscription_ids[0]"
    assert wire.requests == []


@both_modes
def test_a_middle_step_is_retried_with_its_own_request(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = record_sleeps(monkeypatch)
    wire = Wire(mode, CUSTOMER, status(503), status(429), subscription("s1"), subscription("s2"))
    toy = Toy()
    link = create(mode, toy, wire, PortalRequest("c1", subscription_ids=["s1", "s2"]))
    assert wire.paths == [
        "/customers/c1",
        "/subscriptions/s1",
        "/subscriptions/s1",
        "/subscriptions/s1",
        "/subscriptions/s2",
    ]
    # Every attempt of step 2 sent that step's request object; step 1 was not sent again.
    assert wire.requests[1] is wire.requests[2] is wire.requests[3]
    assert wire.requests[0] is not wire.requests[1]
    assert len(sleeps) == 2
    assert toy.thrown == []  # retryable failures of a step stay in the shell
    assert toy.started == 1
    assert len(link.deep_links) == 2


@both_modes
def test_an_unreadable_answer_retries_its_step_by_replaying_the_exchange(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_sleeps(monkeypatch)
    broken: Answer = lambda request: httpx.Response(  # noqa: E731
        200, content=b'{"owner": "c1", "ur', headers={"content-type": "application/json"}
    )
    wire = Wire(mode, CUSTOMER, broken, subscription("s1"))
    toy = Toy()
    link = create(mode, toy, wire, PortalRequest("c1", subscription_ids=["s1"]))
    # The exchange raised on the truncated body; a fresh one was brought to step 2 from the
    # recorded answer of step 1, without sending the customer read again.
    assert wire.paths == ["/customers/c1", "/subscriptions/s1", "/subscriptions/s1"]
    assert wire.requests[1] is wire.requests[2]
    assert toy.started == 2
    assert link.deep_link("update_payment_method", "s1").startswith("https://portal.toy.test/")


@both_modes
def test_the_deadline_covers_the_whole_exchange(mode: str) -> None:
    # Each step well inside the deadline; the three together are not.
    answers = (CUSTOMER, subscription("s1"), subscription("s2"))
    wire = Wire(mode, *answers, delay=0.6)
    toy = Toy()
    policy = RetryPolicy(deadline=1.0, max_attempts=3, backoff_initial=0.0)
    with pytest.raises(errors.ProviderUnavailable) as caught:
        create(mode, toy, wire, PortalRequest("c1", subscription_ids=["s1", "s2"]), retry=policy)
    assert "timed out" in caught.value.message
    # Async cancels step 2 at the deadline; sync (a mock transport ignores timeouts) lets it
    # finish, then refuses to send step 3. Either way step 3 is never sent, nothing retried.
    assert wire.paths == ["/customers/c1", "/subscriptions/s1"]
    # Step 2's timeouts were cut to what the exchange had left, not a fresh deadline.
    assert wire.timeouts[1]["read"] <= 1.0 - 0.6 + 0.05
    assert wire.timeouts[0]["read"] > wire.timeouts[1]["read"]
    assert [type(error) for error in toy.thrown] == [errors.ProviderUnavailable]


@both_modes
def test_an_error_translated_by_the_exchange(mode: str) -> None:
    wire = Wire(mode, CUSTOMER, status(404, "req_missing"))
    toy = Toy()
    with pytest.raises(InvalidRequest) as caught:
        create(mode, toy, wire, PortalRequest("c1", subscription_ids=["s9", "s2"]))
    error = caught.value
    assert not isinstance(error, errors.CustomerNotFound)
    assert "s9" in error.message
    assert error.field == "subscription_ids"
    assert (error.status, error.request_id) == (404, "req_missing")
    assert [type(thrown) for thrown in toy.thrown] == [errors.CustomerNotFound]
    assert wire.paths == ["/customers/c1", "/subscriptions/s9"]  # 404 is not retried


@both_modes
def test_an_exchange_may_go_on_after_a_thrown_error(mode: str) -> None:
    wire = Wire(mode, CUSTOMER, status(404), subscription("s2", request_id="req_s2"))
    link = create(
        mode, Toy(skip_missing=True), wire, PortalRequest("c1", subscription_ids=["s9", "s2"])
    )
    assert [d.subscription_id for d in link.deep_links] == ["s2"]
    assert link.request_id == "req_s2"


@both_modes
def test_an_error_propagates_from_the_first_step(mode: str) -> None:
    wire = Wire(mode, status(404, "req_nobody"))
    with pytest.raises(errors.CustomerNotFound) as caught:
        create(mode, Toy(), wire, PortalRequest("c1", subscription_ids=["s1"]))
    assert caught.value.request_id == "req_nobody"
    assert wire.paths == ["/customers/c1"]


@both_modes
def test_an_error_propagates_after_a_step_runs_out_of_retries(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_sleeps(monkeypatch)
    wire = Wire(mode, CUSTOMER, status(502), status(502), status(502, "req_third"))
    toy = Toy()
    with pytest.raises(errors.ProviderUnavailable) as caught:
        create(
            mode,
            toy,
            wire,
            PortalRequest("c1", subscription_ids=["s1"]),
            retry=RetryPolicy(max_attempts=3),
        )
    assert (caught.value.status, caught.value.request_id) == (502, "req_third")
    assert toy.thrown == [caught.value]  # thrown in once, after the last retry, and raised
    assert wire.paths == ["/customers/c1"] + ["/subscriptions/s1"] * 3


@both_modes
def test_the_body_limit_holds_on_a_later_step(mode: str) -> None:
    big = {"owner": "c1", "url": "https://portal.toy.test/s", "pad": "x" * 5000}
    wire = Wire(mode, CUSTOMER, ok(big))
    toy = Toy()
    with pytest.raises(InvalidResponse) as caught:
        create(
            mode,
            toy,
            wire,
            PortalRequest("c1", subscription_ids=["s1"]),
            max_response_bytes=2048,
            retry=RetryPolicy(max_attempts=1),
        )
    assert "2048-byte limit" in caught.value.message
    assert wire.paths == ["/customers/c1", "/subscriptions/s1"]
    assert toy.thrown == [caught.value]
    assert len(json.dumps(big)) > 2048  # the limit, not the body, decided


@pytest.mark.parametrize("mode", MODES)
def test_a_one_request_adapter_is_a_one_step_exchange(mode: str) -> None:
    class OneStep(Toy):
        exchange = None  # type: ignore[assignment]  # as an adapter without the method

    wire = Wire(mode, CUSTOMER)
    link = create(mode, OneStep(), wire, PortalRequest("c1", subscription_ids=["s1"]))
    assert wire.paths == ["/customers/c1"]  # build_request/parse_response only
    assert link.url == PORTAL
