"""The Stripe twin's portal configurations (providers/stripe_sandbox.py): the seeded
default (every feature on), and ``GET``/``POST /v1/billing_portal/configurations`` and
``GET /v1/billing_portal/configurations/{id}``, answering full
``billing_portal.configuration`` objects as Stripe does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from portalkit.providers.stripe_twin_params import (
    CONFIGURATION_PARAMS,
    ENUMS,
    LIST_PARAMS,
    bad,
    checked,
    missing,
    no_such,
    one_of,
)
from portalkit.providers.stripe_twin_requests import answer, authenticate, post
from portalkit.sandbox.twin import Call, Invalid, Reply, base62, form_object, return_url_problem

DEFAULT_CONFIGURATION = "bpc_1PkSandboxDefaultCfg"
#: The seeded default's created/updated time (2026-01-01): fixed, so cassettes and the
#: adapter's fingerprint of it do not change from one recording to the next.
SEEDED_AT = 1767225600
SEEDED_PRODUCT = "prod_PkSandboxPlan01"
SEEDED_PRICES = ("price_1PkSandboxMonthly", "price_1PkSandboxYearly1")


def _configuration_object(
    config_id: str, params: Mapping[str, Any], now: int, *, default: bool = False
) -> dict[str, Any]:
    """A ``billing_portal.configuration`` as Stripe answers it: every field, unset ones null
    or Stripe's defaults, the params' values over them."""
    features = params.get("features", {})

    def feature(name: str, base: dict[str, Any]) -> dict[str, Any]:
        given = features.get(name, {})
        merged = {**base, **{k: v for k, v in given.items() if not isinstance(v, dict)}}
        for key, value in given.items():
            if isinstance(value, dict):
                merged[key] = {**(base.get(key) or {}), **value}
        return merged

    profile = params.get("business_profile", {})
    return {
        "id": config_id,
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {
            "headline": profile.get("headline"),
            "privacy_policy_url": profile.get("privacy_policy_url"),
            "terms_of_service_url": profile.get("terms_of_service_url"),
        },
        "created": now,
        "default_return_url": params.get("default_return_url"),
        "features": {
            "customer_update": feature(
                "customer_update", {"allowed_updates": [], "enabled": False}
            ),
            "invoice_history": feature("invoice_history", {"enabled": False}),
            "payment_method_update": feature(
                "payment_method_update", {"enabled": False, "payment_method_configuration": None}
            ),
            "subscription_cancel": feature(
                "subscription_cancel",
                {
                    "cancellation_reason": {"enabled": False, "options": []},
                    "enabled": False,
                    "mode": "at_period_end",
                    "proration_behavior": "none",
                },
            ),
            "subscription_pause": feature("subscription_pause", {"enabled": False}),
            "subscription_update": feature(
                "subscription_update",
                {
                    "billing_cycle_anchor": None,
                    "default_allowed_updates": [],
                    "enabled": False,
                    "products": [],
                    "proration_behavior": "none",
                    "schedule_at_period_end": {"conditions": []},
                    "trial_update_behavior": "end_trial",
                },
            ),
        },
        "is_default": default,
        "livemode": False,
        "login_page": {"enabled": bool(params.get("login_page", {}).get("enabled")), "url": None},
        "metadata": params.get("metadata", {}),
        "name": params.get("name"),
        "updated": now,
    }


def _seeded_default() -> dict[str, Any]:
    every_feature = {
        "features": {
            "customer_update": {"allowed_updates": ["email", "address", "tax_id"], "enabled": True},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True},
            "subscription_update": {
                "default_allowed_updates": ["price", "quantity"],
                "enabled": True,
                "products": [{"prices": list(SEEDED_PRICES), "product": SEEDED_PRODUCT}],
                "proration_behavior": "create_prorations",
            },
        }
    }
    return _configuration_object(DEFAULT_CONFIGURATION, every_feature, SEEDED_AT, default=True)


def _configurations(call: Call) -> list[dict[str, Any]]:
    """The account's configurations, oldest first; the default is there from the start."""
    found = call.store.objects("configuration")
    if not found:
        call.store.put_object("configuration", DEFAULT_CONFIGURATION, _seeded_default())
        found = call.store.objects("configuration")
    return [value for _, value in found]


def find_configuration(call: Call, config_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = call.store.get_object("configuration", config_id)
    if found is None and config_id == DEFAULT_CONFIGURATION:
        _configurations(call)  # seeds the default (not on every create: it copies them all)
        found = call.store.get_object("configuration", config_id)
    return found


def list_configurations(call: Call) -> Reply:
    authenticate(call)
    query = checked(_query(call), LIST_PARAMS, "")
    limit = query.get("limit", 10)
    if not 1 <= limit <= 100:
        raise bad("Invalid limit: must be between 1 and 100.", "limit")
    if "starting_after" in query and "ending_before" in query:
        raise bad(
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
            "parameters_exclusive",
        )
    # Newest first, as Stripe lists; ties (the same second) by creation order, newest first.
    data = list(reversed(_configurations(call)))
    for field in ("active", "is_default"):
        if field in query:
            data = [c for c in data if c[field] is query[field]]
    for cursor in ("starting_after", "ending_before"):
        if cursor in query:
            ids = [c["id"] for c in data]
            if query[cursor] not in ids:
                if find_configuration(call, query[cursor]) is None:
                    raise no_such("billing_portal.configuration", query[cursor], cursor)
                ids.append(query[cursor])  # filtered out: nothing after it in this view
                data = []
            else:
                at = ids.index(query[cursor])
                data = data[at + 1 :] if cursor == "starting_after" else data[:at]
    page = data[:limit] if "ending_before" not in query else data[-limit:]
    return answer(
        call,
        Reply(
            200,
            {
                "object": "list",
                "data": page,
                "has_more": len(data) > len(page),
                "url": "/v1/billing_portal/configurations",
            },
        ),
    )


def _query(call: Call) -> dict[str, Any]:
    """The query as a nested form (``expand[]=...``), every key kept."""
    try:
        return form_object(urlencode(list(call.query.items())).encode())
    except ValueError as exc:
        raise Invalid(400, "", f"Invalid query string: {exc}") from None


def create_configuration(call: Call) -> Reply:
    return post(call, _mint_configuration)


def _mint_configuration(call: Call, body: dict[str, Any]) -> Reply:
    params = checked(body, CONFIGURATION_PARAMS, "")
    if "features" not in params:
        raise missing("features")
    _check_configuration(params)
    config_id = f"bpc_{base62(24)}"
    _configurations(call)  # the default first
    configuration = _configuration_object(config_id, params, int(call.now))
    call.store.put_object("configuration", config_id, configuration)
    return Reply(200, configuration)


def _check_configuration(params: Mapping[str, Any]) -> None:
    for path, allowed in ENUMS.items():
        parts = re.findall(r"[^\[\]]+", path)
        value: Any = params
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        for item in value if isinstance(value, list) else [value] if value else []:
            one_of(item, allowed, path)
    features = params.get("features", {})
    update = features.get("subscription_update", {})
    if update.get("enabled") and not update.get("products"):
        raise bad(
            "To enable subscription updates, you must specify at least one product.",
            "features[subscription_update][products]",
        )
    if features.get("customer_update", {}).get("enabled") and not features["customer_update"].get(
        "allowed_updates"
    ):
        raise bad(
            "To enable customer updates, you must specify at least one allowed update.",
            "features[customer_update][allowed_updates]",
        )
    for field in ("default_return_url",):
        if field in params and (problem := return_url_problem(params[field])):
            raise bad(f"Invalid URL: {field} {problem}.", field, "url_invalid")


def retrieve_configuration(call: Call) -> Reply:
    authenticate(call)
    config_id = call.path_params["configuration"]
    configuration = find_configuration(call, config_id)
    if configuration is None:
        raise Invalid(
            404, "resource_missing", f"No such configuration: '{config_id[:255]}'", "configuration"
        )
    return answer(call, Reply(200, configuration))
