"""``POST /v1/billing_portal/sessions`` on the Stripe twin (providers/stripe_sandbox.py):
the parameters, then the resources they name (the customer, the configuration), then the
flow against them, in Stripe's order; a session's answer as Stripe's, and the portal
session the hosted pages (providers/stripe_twin_pages.py) open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portalkit.providers.stripe_twin_configurations import (
    DEFAULT_CONFIGURATION,
    find_configuration,
)
from portalkit.providers.stripe_twin_params import (
    ACCOUNT_ID,
    AFTER_COMPLETION_TYPES,
    CUSTOMER_ID,
    FLOW_TYPES,
    ITEM_ID,
    LOCALES,
    PROMOTION_CODE_ID,
    SESSION_PARAMS,
    bad,
    checked,
    missing,
    no_such,
    one_of,
)
from portalkit.providers.stripe_twin_requests import ACCOUNT, post
from portalkit.sandbox.twin import Call, Reply, Session, base62, return_url_problem, token, utc

#: Stripe calls sessions short-lived and says nothing more; the sandbox's links last this.
TTL = 5 * 60
MAX_CUSTOM_MESSAGE = 500
#: subscription_update_confirm: "Currently, only up to one may be specified" (items, discounts).
MAX_CONFIRM_ITEMS = MAX_DISCOUNTS = 1

# flow type -> (the portal action it opens, the configuration feature it needs)
FLOW_ACTIONS = {
    "payment_method_update": ("update_payment_method", "payment_method_update"),
    "subscription_cancel": ("cancel_subscription", "subscription_cancel"),
    "subscription_update": ("update_subscription", "subscription_update"),
    "subscription_update_confirm": ("update_subscription", "subscription_update"),
    "customer_update": ("update_customer_details", "customer_update"),
}
# portal action -> the configuration feature that shows it
_ACTION_FEATURES = {
    "update_subscription": "subscription_update",
    "cancel_subscription": "subscription_cancel",
    "update_payment_method": "payment_method_update",
    "view_invoices": "invoice_history",
    "update_customer_details": "customer_update",
}


def create_session(call: Call) -> Reply:
    return post(call, _mint_session)


def _mint_session(call: Call, body: dict[str, Any]) -> Reply:
    params = checked(body, SESSION_PARAMS, "")
    customer = params.get("customer")
    if customer is None:
        if "customer_account" in params:
            raise bad("Accounts v2 customers are not emulated by the sandbox.", "customer_account")
        raise missing("customer")
    if "locale" in params:
        one_of(params["locale"], sorted(LOCALES), "locale")
    if "return_url" in params and (problem := return_url_problem(params["return_url"])):
        raise bad(f"Invalid URL: return_url {problem}.", "return_url", "url_invalid")
    on_behalf_of = params.get("on_behalf_of")
    if on_behalf_of is not None and not ACCOUNT_ID.fullmatch(on_behalf_of):
        raise no_such("account", on_behalf_of, "on_behalf_of")
    flow = _flow(params["flow_data"]) if "flow_data" in params else None
    # The resources, once the parameters are right.
    if not CUSTOMER_ID.fullmatch(customer) or not call.store.has_customer(customer):
        raise no_such("customer", customer, "customer")
    config_id = params.get("configuration", DEFAULT_CONFIGURATION)
    configuration = find_configuration(call, config_id)
    if configuration is None:
        raise no_such("configuration", config_id, "configuration")
    if not configuration["active"]:
        raise bad(
            f"The configuration '{config_id}' is not active; activate it or use another.",
            "configuration",
        )
    if flow is not None:
        _check_flow_against(call, flow, customer, configuration)
    return _session(call, params, customer, configuration, flow)


def _flow(data: dict[str, Any]) -> dict[str, Any]:
    """``flow_data`` checked on its own, as Stripe's echo of it (every key present)."""
    flow_type = data.get("type")
    if flow_type is None:
        raise missing("flow_data[type]")
    one_of(flow_type, FLOW_TYPES, "flow_data[type]")
    for other in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
        if other in data and other != flow_type:
            raise bad(
                f"flow_data[{other}] can only be set when flow_data[type] is {other}.",
                f"flow_data[{other}]",
            )
    echo: dict[str, Any] = {
        "after_completion": _after_completion(data.get("after_completion")),
        "subscription_cancel": None,
        "subscription_update": None,
        "subscription_update_confirm": None,
        "type": flow_type,
    }
    if flow_type in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
        details = data.get(flow_type)
        if details is None:
            raise missing(f"flow_data[{flow_type}]")
        if "subscription" not in details:
            raise missing(f"flow_data[{flow_type}][subscription]")
        echo[flow_type] = {"subscription": details["subscription"]}
        if flow_type == "subscription_cancel":
            echo[flow_type]["retention"] = _retention(details.get("retention"))
        elif flow_type == "subscription_update_confirm":
            echo[flow_type]["items"] = _items(details.get("items"))
            echo[flow_type]["discounts"] = _discounts(details.get("discounts", []))
    return echo


def _after_completion(data: dict[str, Any] | None) -> dict[str, Any]:
    param = "flow_data[after_completion]"
    if data is None:  # Stripe's default: back to the portal's home page
        return {"hosted_confirmation": None, "redirect": None, "type": "portal_homepage"}
    kind = data.get("type")
    if kind is None:
        raise missing(f"{param}[type]")
    one_of(kind, AFTER_COMPLETION_TYPES, f"{param}[type]")
    for other in ("hosted_confirmation", "redirect"):
        if other in data and other != kind:
            raise bad(
                f"{param}[{other}] can only be set when {param}[type] is {other}.",
                f"{param}[{other}]",
            )
    echo: dict[str, Any] = {"hosted_confirmation": None, "redirect": None, "type": kind}
    if kind == "redirect":
        url = data.get("redirect", {}).get("return_url")
        if url is None:
            raise missing(f"{param}[redirect][return_url]")
        if problem := return_url_problem(url):
            raise bad(f"Invalid URL: {problem}.", f"{param}[redirect][return_url]", "url_invalid")
        echo["redirect"] = {"return_url": url}
    elif kind == "hosted_confirmation":
        message = data.get("hosted_confirmation", {}).get("custom_message")
        if message is not None and len(message) > MAX_CUSTOM_MESSAGE:
            raise bad(
                f"Invalid string: must be at most {MAX_CUSTOM_MESSAGE} characters.",
                f"{param}[hosted_confirmation][custom_message]",
            )
        echo["hosted_confirmation"] = {"custom_message": message}
    return echo


def _retention(data: dict[str, Any] | None) -> dict[str, Any] | None:
    param = "flow_data[subscription_cancel][retention]"
    if data is None:
        return None
    if "type" not in data:
        raise missing(f"{param}[type]")
    one_of(data["type"], ("coupon_offer",), f"{param}[type]")
    coupon = data.get("coupon_offer", {}).get("coupon")
    if coupon is None:
        raise missing(f"{param}[coupon_offer][coupon]")
    return {"coupon_offer": {"coupon": coupon}, "type": "coupon_offer"}


def _items(data: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    param = "flow_data[subscription_update_confirm][items]"
    if not data:
        raise missing(param)
    if len(data) > MAX_CONFIRM_ITEMS:
        raise bad(f"Invalid array: {param} takes at most {MAX_CONFIRM_ITEMS} item.", param)
    items = []
    for index, item in enumerate(data):
        if "id" not in item:
            raise missing(f"{param}[{index}][id]")
        if not ITEM_ID.fullmatch(item["id"]):
            raise no_such("subscription item", item["id"], f"{param}[{index}][id]")
        if item.get("quantity", 0) < 0:
            raise bad("This value must be greater than or equal to 0.", f"{param}[{index}]")
        items.append(
            {"id": item["id"], "price": item.get("price"), "quantity": item.get("quantity")}
        )
    return items


def _discounts(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    param = "flow_data[subscription_update_confirm][discounts]"
    if len(data) > MAX_DISCOUNTS:
        raise bad(f"Invalid array: {param} takes at most {MAX_DISCOUNTS} discount.", param)
    discounts = []
    for index, discount in enumerate(data):
        if len(discount) != 1:
            raise bad(
                "You may only specify one of these parameters: coupon, promotion_code.",
                f"{param}[{index}]",
                "parameters_exclusive",
            )
        code = discount.get("promotion_code")
        if code is not None and not PROMOTION_CODE_ID.fullmatch(code):
            raise no_such("promotion code", code, f"{param}[{index}][promotion_code]")
        discounts.append({"coupon": discount.get("coupon"), "promotion_code": code})
    return discounts


def _check_flow_against(
    call: Call, flow: dict[str, Any], customer: str, configuration: Mapping[str, Any]
) -> None:
    """The flow against the customer's subscriptions and the configuration's features."""
    flow_type = flow["type"]
    details = flow.get(flow_type)
    if details is not None:
        subscription = details["subscription"]
        param = f"flow_data[{flow_type}][subscription]"
        owner = next(
            (c for c in call.store.customers() if subscription in call.store.subscriptions(c)),
            None,
        )
        if owner is None:
            raise no_such("subscription", subscription, param)
        if owner != customer:
            raise bad(
                f"The subscription '{subscription}' does not belong to the customer '{customer}'.",
                param,
            )
    feature = FLOW_ACTIONS[flow_type][1]
    if not configuration["features"][feature]["enabled"]:
        raise bad(
            f"The `{flow_type}` flow cannot be used: the portal configuration"
            f" '{configuration['id']}' has features[{feature}][enabled] set to false.",
            "flow_data[type]",
        )


def _session(
    call: Call,
    params: Mapping[str, Any],
    customer: str,
    configuration: Mapping[str, Any],
    flow: dict[str, Any] | None,
) -> Reply:
    created = int(call.now)
    session_id = f"bps_{base62(24)}"
    secret = f"test_{token()}"
    url = f"{call.base_url}/stripe/p/{secret}"
    features = configuration["features"]
    subscription = (flow.get(flow["type"]) or {}).get("subscription") if flow else None
    session = Session(
        vendor="stripe",
        id=session_id,
        customer_id=customer,
        return_url=params.get("return_url"),
        # What the page offers: each portal action's feature, on or off.
        configuration={a: bool(features[f]["enabled"]) for a, f in _ACTION_FEATURES.items()},
        subscription_ids=(subscription,) if subscription else (),
        locale=params.get("locale"),
        account_id=call.headers.get("stripe-account") or ACCOUNT,
        idempotency_key=call.headers.get("idempotency-key"),
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=url,
        token=secret,
        link_id=secret,
        extra={"flow": flow, "configuration": configuration["id"], "flow_secret": token()},
    )
    call.store.add_session(session)
    return Reply(
        200,
        {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": configuration["id"],
            "created": created,
            "customer": customer,
            "customer_account": None,
            "flow": flow,
            "livemode": False,
            "locale": params.get("locale"),
            "on_behalf_of": params.get("on_behalf_of"),
            "return_url": params.get("return_url"),
            "url": url,
        },
    )
