"""``Portal.preview`` (issue 24, "Ask before you show a button"): what ``create_link`` would
do with a request -- each feature honoured, dropped or refused, and why; the refusal; the
link's ``ignored_fields`` -- found without sending anything.

The main test holds preview to what ``create_link`` actually does against the sandbox, for
every registered vendor, every feature a request can ask for and every flow action, with
and without ``strict``: the same refusal (or the same bad-input error) before anything is
sent, or the same ``ignored_fields`` on the minted link; and where preview says a flow is
honoured, the minted link's deep link for it opens the vendor twin's portal at that
subscription (the twin restates the vendor's docs, not the adapter).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from _vendors import VENDORS, supports, twin

from portalkit import (
    Action,
    AfterCompletion,
    AsyncPortal,
    Feature,
    FeatureOutcome,
    Flow,
    FlowDiscount,
    FlowItem,
    MigrationRouter,
    Outcome,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RequestPreview,
    RetentionOffer,
    RetryPolicy,
    Route,
    errors,
)
from portalkit._http import httpx
from portalkit.sandbox import Sandbox

RETURN_URL = "https://app.example/account"
T = TypeVar("T")
ONE_ATTEMPT = RetryPolicy(max_attempts=1)


def asks(sandbox: Sandbox, vendor: str) -> Iterator[tuple[str, PortalRequest]]:
    """A request asking for each feature in turn (each in_request row of the feature table),
    each flow action with and without a subscription, and a few together: for the vendor's
    first seeded customer and subscription. Each has a return URL where the vendor takes one
    (some require it), so that the feature asked for is the only thing in question."""
    customer = sandbox.customers(vendor)[0]
    sub = sandbox.subscriptions(vendor, customer)[0]
    takes_return_url = supports(vendor, Feature.RETURN_URL)

    def ask(**fields: Any) -> PortalRequest:
        if takes_return_url:
            fields.setdefault("return_url", RETURN_URL)
        return PortalRequest(customer, **fields)

    yield "nothing", ask()
    yield "external id", PortalRequest.for_external_id("usr_alice")
    yield "return_url", ask(return_url=RETURN_URL)
    yield "locale", ask(locale="fr")
    yield "locale without a close match", ask(locale="ar")
    yield "subscription_ids", ask(subscription_ids=[sub])
    for action in Action:
        yield f"flow {action.value}", ask(flow=Flow(action))
        yield f"flow {action.value} for a subscription", ask(flow=Flow(action, sub))
    yield (
        "flow with after_completion",
        ask(
            flow=Flow(
                Action.CANCEL_SUBSCRIPTION, sub, after_completion=AfterCompletion.confirmation()
            )
        ),
    )
    yield (
        "flow with items and discounts",
        ask(
            flow=Flow(
                Action.UPDATE_SUBSCRIPTION,
                sub,
                items=[FlowItem("si_1", quantity=2)],
                discounts=[FlowDiscount(coupon="SAVE10")],
            )
        ),
    )
    yield (
        "flow with a retention offer",
        ask(flow=Flow(Action.CANCEL_SUBSCRIPTION, sub, retention=RetentionOffer("STAY20"))),
    )
    yield "on_behalf_of", ask(on_behalf_of="acc_01HZSEED00000000000000ACCT")
    yield "idempotency_key", ask(idempotency_key="preview-key-1")
    yield "provider_options", ask(provider_options={vendor: {"theme": "dark"}})
    yield "provider_options for no provider", ask(provider_options={"no-such-vendor": {"a": 1}})
    for action in (
        Action.CANCEL_SUBSCRIPTION,
        Action.UPDATE_SUBSCRIPTION,
        Action.UPDATE_PAYMENT_METHOD,
        Action.VIEW_INVOICES,
    ):
        configuration = PortalConfiguration(**{action.value: False})
        yield f"configuration {action.value}", ask(configuration=configuration)
    yield (
        "several hints at once",
        ask(return_url=RETURN_URL, locale="fr", subscription_ids=[sub], flow=Flow(Action.OVERVIEW)),
    )
    yield "a return URL host the portal does not allow", ask(return_url="https://evil.example/x")


def attempt(
    call: Callable[[PortalRequest], T], request: PortalRequest
) -> tuple[T | None, errors.PortalError | None]:
    """``call(request)``'s result, or the PortalError it raised."""
    try:
        return call(request), None
    except errors.PortalError as error:
        return None, error


def _error_facts(error: errors.PortalError) -> tuple[Any, ...]:
    return (
        type(error),
        error.message,
        getattr(error, "field", None),
        getattr(error, "feature", None),
        error.provider,
    )


def opens_at(url: str, sub: str) -> dict[str, str] | None:
    """The pre-opened action the twin's portal page shows for ``url`` (None: its front
    page)."""
    page = httpx.get(url, follow_redirects=True, timeout=5)
    assert page.status_code == 200, page.status_code
    found = re.search(r'<p id="preopened-action" ([^>]*)>', page.text)
    if found is None:
        return None
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(1)))


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("vendor", VENDORS)
def test_preview_agrees_with_what_create_link_does(
    portal_sandbox: Sandbox, vendor: str, strict: bool
) -> None:
    sandbox = portal_sandbox
    opened_flows = 0
    with Portal(
        sandbox.provider(vendor),
        strict=strict,
        retry=ONE_ATTEMPT,
        allowed_return_hosts=["app.example"],
    ) as portal:
        for name, request in asks(sandbox, vendor):
            sent_before = len(sandbox.received(vendor))
            preview, bad_input = attempt(portal.preview, request)
            assert len(sandbox.received(vendor)) == sent_before, f"{name}: preview sent"
            link, error = attempt(portal.create_link, request)
            if preview is None:
                # Bad input: create_link raises the same error, before sending anything.
                assert not isinstance(bad_input, errors.UnsupportedFeature), name
                assert isinstance(bad_input, errors.InvalidRequest), (name, bad_input)
                assert error is not None, f"{name}: create_link sent it"
                assert _error_facts(error) == _error_facts(bad_input), name
                assert len(sandbox.received(vendor)) == sent_before, name
                continue
            assert preview.provider == vendor
            if isinstance(error, errors.UnsupportedFeature):
                assert preview.refusal is not None, f"{name}: preview said it would send"
                assert _error_facts(error) == _error_facts(preview.refusal), name
                assert not preview.would_send
                assert preview.refused, f"{name}: no refused feature listed"
                assert preview.ignored_fields == ()
                assert len(sandbox.received(vendor)) == sent_before, name
                continue
            # Minted, or the vendor's own answer (an id its sandbox does not know, a field it
            # refuses): sent, as preview said.
            assert preview.would_send, f"{name}: preview said {preview.refusal}"
            assert preview.refusal is None
            assert preview.refused == ()
            assert len(sandbox.received(vendor)) > sent_before, name
            if link is None:
                continue
            assert link.ignored_fields == preview.ignored_fields, name
            for entry in preview.features:  # each outcome is where the link says it is
                if entry.outcome is Outcome.HONOURED:
                    assert entry.field not in link.ignored_fields, (name, entry)
                elif entry.reason != "dropped with the flow it belongs to":
                    assert entry.field in link.ignored_fields, (name, entry)
            flow = request.flow
            if flow is None or flow.subscription_id is None:
                continue
            shown = opens_at(link.url, flow.subscription_id)
            if preview.honours(Feature.FLOW) and flow.action is Action.OVERVIEW:
                # The subscription's overview page (Lemon Squeezy's): the portal's own front.
                assert link.deep_link(flow.action, flow.subscription_id) == link.url, name
                assert shown is None, (name, shown)
            elif preview.honours(Feature.FLOW):
                # Honoured: the link opens the twin's portal at the flow's action, for the
                # subscription, and the link says so in its deep links.
                assert link.deep_link(flow.action, flow.subscription_id) == link.url, name
                assert shown is not None, f"{name}: the portal opened at its front page"
                assert shown["subscription-id"] == flow.subscription_id, name
                assert shown["action"] in twin(vendor).preopened_labels, (name, shown)
                opened_flows += 1
            else:  # dropped: the portal's front page
                assert shown is None, (name, shown)
    # An independent fact: the vendors whose twin's portal can open at an action are the
    # ones whose flows preview honours.
    assert (opened_flows > 0) == bool(twin(vendor).preopened_labels)


def test_preview_sends_nothing_and_needs_no_open_client(portal_sandbox: Sandbox) -> None:
    customer = portal_sandbox.customers("paddle")[0]
    portal = Portal(portal_sandbox.provider("paddle"))
    portal.close()
    preview = portal.preview(PortalRequest(customer, return_url=RETURN_URL))
    assert preview.would_send
    assert preview.ignored_fields == ("return_url",)
    assert portal_sandbox.received("paddle") == []


def _outcome(preview: RequestPreview, feature: Feature) -> FeatureOutcome:
    (found,) = [entry for entry in preview.features if entry.feature is feature]
    return found


def test_each_outcome_says_why_in_portalkits_words(portal_sandbox: Sandbox) -> None:
    with Portal(portal_sandbox.provider("chargebee")) as portal:
        customer = portal_sandbox.customers("chargebee")[0]
        sub = portal_sandbox.subscriptions("chargebee", customer)[0]
        refused = portal.preview(
            PortalRequest(customer, configuration=PortalConfiguration(cancel_subscription=False))
        )
        dropped = portal.preview(PortalRequest(customer, flow=Flow("cancel_subscription", sub)))
        honoured = portal.preview(PortalRequest(customer, flow=Flow("update_subscription", sub)))
    entry = _outcome(refused, Feature.CONFIGURE_CANCEL_SUBSCRIPTION)
    assert entry.outcome is Outcome.REFUSED
    assert entry.field == "configuration.cancel_subscription"
    assert entry.reason.startswith("chargebee has no per-session configuration of cancelling")
    assert "changes what the customer may do" in entry.reason
    assert refused.refusal is not None
    assert refused.refusal.feature == "configure_cancel_subscription"
    assert not refused.would_send

    entry = _outcome(dropped, Feature.FLOW)
    assert entry.outcome is Outcome.DROPPED
    assert entry.reason.startswith("chargebee cannot open its portal at 'cancel_subscription'")
    assert dropped.ignored_fields == ("flow",)
    assert dropped.would_send
    assert not dropped.honours(Feature.FLOW)
    assert dropped.dropped == (entry,)

    entry = _outcome(honoured, Feature.FLOW)
    assert entry.outcome is Outcome.HONOURED
    assert honoured.honours(Feature.FLOW)
    assert honoured.outcome(Feature.LOCALE) is None  # not asked for


def test_strict_refuses_what_it_would_drop(portal_sandbox: Sandbox) -> None:
    customer = portal_sandbox.customers("paddle")[0]
    with Portal(portal_sandbox.provider("paddle"), strict=True) as portal:
        preview = portal.preview(PortalRequest(customer, locale="fr"))
    entry = _outcome(preview, Feature.LOCALE)
    assert entry.outcome is Outcome.REFUSED
    assert "strict=True" in entry.reason
    assert preview.refusal is not None
    assert preview.refusal.field == "locale"


def test_a_refusal_by_the_adapter_names_the_feature(portal_sandbox: Sandbox) -> None:
    # Paddle's policy lets a flow through; its adapter opens only the flows Paddle has deep
    # links for, and refuses the others as it builds the request.
    customer = portal_sandbox.customers("paddle")[0]
    sub = portal_sandbox.subscriptions("paddle", customer)[0]
    with Portal(portal_sandbox.provider("paddle")) as portal:
        preview = portal.preview(PortalRequest(customer, flow=Flow("update_subscription", sub)))
    entry = _outcome(preview, Feature.FLOW)
    assert entry.outcome is Outcome.REFUSED
    assert entry.reason.startswith("paddle can open")
    assert preview.refusal is not None
    assert preview.refusal.feature == "flow"


def test_parts_of_a_dropped_flow_go_with_it(portal_sandbox: Sandbox) -> None:
    customer = portal_sandbox.customers("plugipay")[0]
    sub = portal_sandbox.subscriptions("plugipay", customer)[0]
    flow = Flow("cancel_subscription", sub, after_completion=AfterCompletion.portal_home())
    with Portal(portal_sandbox.provider("plugipay")) as portal:
        preview = portal.preview(PortalRequest(customer, return_url=RETURN_URL, flow=flow))
    assert _outcome(preview, Feature.FLOW).outcome is Outcome.DROPPED
    part = _outcome(preview, Feature.FLOW_AFTER_COMPLETION)
    assert part.outcome is Outcome.DROPPED
    assert part.reason == "dropped with the flow it belongs to"
    assert preview.ignored_fields == ("flow",)


def test_bad_input_raises_as_create_link_does() -> None:
    portal = Portal(Sandbox().provider("stripe", base_url="http://127.0.0.1:1"))
    with pytest.raises(errors.InvalidRequest) as caught:
        portal.preview("cus_1")  # type: ignore[arg-type]
    assert caught.value.field == "request"
    with pytest.raises(errors.InvalidRequest) as caught:
        portal.preview(PortalRequest("not-a-stripe-id"))
    assert caught.value.field == "customer_id"
    portal.close()


def test_a_router_answers_for_the_routed_provider_and_its_fallback() -> None:
    sandbox = Sandbox()
    providers = {
        name: sandbox.provider(name, base_url="http://127.0.0.1:1") for name in ("paddle", "stripe")
    }
    paddle_customer = sandbox.customers("paddle")[0]
    stripe_customer = sandbox.customers("stripe")[0]
    stripe_sub = sandbox.subscriptions("stripe", stripe_customer)[0]

    def route(request: PortalRequest) -> Route:
        return Route(
            "stripe",
            stripe_customer,
            flow=Flow(Action.UPDATE_SUBSCRIPTION, stripe_sub),
            fallback=Route("paddle", paddle_customer),
        )

    router = MigrationRouter(providers, route, fallback=True)
    with Portal(router) as portal:
        preview = portal.preview(PortalRequest("usr_1", return_url=RETURN_URL))
    assert preview.provider == "stripe"
    assert preview.honours(Feature.FLOW)
    assert preview.fallback is not None
    assert preview.fallback.provider == "paddle"
    # The route's flow is Stripe's alone; Paddle gets the app's request (no flow), and has
    # no return URL.
    assert preview.fallback.outcome(Feature.FLOW) is None
    assert preview.fallback.ignored_fields == ("return_url",)


async def test_async_portal_previews_without_awaiting() -> None:
    sandbox = Sandbox()
    customer = sandbox.customers("paddle")[0]
    async with AsyncPortal(sandbox.provider("paddle", base_url="http://127.0.0.1:1")) as portal:
        preview = portal.preview(PortalRequest(customer, locale="fr"))
    assert preview.ignored_fields == ("locale",)

    async def route(request: PortalRequest) -> Route:
        return Route("paddle", customer)

    router = MigrationRouter([sandbox.provider("paddle", base_url="http://127.0.0.1:1")], route)
    async with AsyncPortal(router) as portal:
        with pytest.raises(errors.ConfigurationError, match="cannot await"):
            portal.preview(PortalRequest("usr_1"))
