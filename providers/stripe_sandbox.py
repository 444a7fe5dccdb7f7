"""Stripe's sandbox twin: the customer portal's API (``POST /v1/billing_portal/sessions``,
``GET``/``POST /v1/billing_portal/configurations``) as Stripe's API reference documents it
(/work/shared/provider-docs/stripe.md; Stripe API reference -> Customer Portal), and its
hosted portal. Restated from the docs: it imports nothing from the adapter.

Served at the sandbox's root, at Stripe's own paths (``Twin.base_path`` is ``""``: no other
twin has a ``/v1/billing_portal/`` route, and the sandbox refuses two twins on one path), so
``Stripe(base_url=sandbox.url)`` and ``StripeClient(..., base_addresses={"api":
sandbox.url})`` (or ``stripe.api_base = sandbox.url``) reach it as they reach
api.stripe.com.

Checks, in Stripe's order: the key (401: none, or not one of this account's; 403: the
restricted key, which lacks the billing-portal permissions), the ``Stripe-Account`` header,
the ``Idempotency-Key`` (at most 255 characters), the form body in bracket notation against
what the endpoint takes (an unknown parameter is a 400 ``parameter_unknown`` naming it in
``param``; a wrong type or enum value a 400 naming it), then the resources it names
(``resource_missing``: the customer, the configuration, a subscription), then the flow
against them (a subscription of another customer, a flow the configuration switched off).
Every error is Stripe's ``{"error": {"type", "code", "message", "param", "doc_url",
"request_log_url"}}`` with the request id in ``Request-Id``.

Idempotency as Stripe does it: a POST's key with the same parameters (and endpoint and
account) replays the saved answer with ``Idempotent-Replayed: true``; other parameters are
a 400 ``idempotency_error``. A validation error is not saved (Stripe saves an answer only
once the endpoint started executing).

The account has one seeded configuration, the default (``DEFAULT_CONFIGURATION``, every
feature on); ``POST /v1/billing_portal/configurations`` adds more, and a session names one
by id. Portal URLs are ``{sandbox}/stripe/p/test_<token>``: the path is the single-use
credential (Stripe's ``/p/session/test_...``, without the ``session`` segment, see
docs/providers/stripe.md). A flow opens the portal at the flow; confirming it carries out
the flow's ``after_completion``: redirect to its URL, the confirmation message, or the
portal's home page (Stripe's default).

Webhooks (``TWIN.webhooks``, built in providers/stripe_twin_webhooks.py): what the customer
does in the portal sends Stripe's events (``customer.subscription.updated``/``.deleted``,
``payment_method.attached``, ``customer.updated``), signed with ``Stripe-Signature``, so
``stripe.Webhook.construct_event`` verifies them as it does Stripe's.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from portalkit.providers.stripe_twin_webhooks import twin_webhooks
from portalkit.sandbox.twin import (
    ApiRoute,
    Call,
    IdFormat,
    Invalid,
    PageRoute,
    Pages,
    Reply,
    Session,
    Twin,
    base62,
    fingerprint,
    form_object,
    idempotent,
    return_url_problem,
    token,
    utc,
)

SESSIONS = "/v1/billing_portal/sessions"
CONFIGURATIONS = "/v1/billing_portal/configurations"
DOCS = "https://stripe.com/docs/error-codes/"
#: Stripe calls sessions short-lived and says nothing more; the sandbox's links last this.
TTL = 5 * 60
#: "Idempotency-Key ... up to 255 characters long".
MAX_IDEMPOTENCY_KEY = 255
#: The spec's cap on ids and strings.
MAX_STRING = 5000
MAX_CUSTOM_MESSAGE = 500
#: Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 50, 40, 500
#: subscription_update_confirm: "Currently, only up to one may be specified" (items, discounts).
MAX_CONFIRM_ITEMS = MAX_DISCOUNTS = 1

ACCOUNT = "acct_1PkSandboxAcct01"
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,250}")
SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9]{1,250}")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,250}")
CONFIGURATION_ID = re.compile(r"bpc_[A-Za-z0-9]{1,250}")
ITEM_ID = re.compile(r"si_[A-Za-z0-9]{1,250}")
PROMOTION_CODE_ID = re.compile(r"promo_[A-Za-z0-9]{1,250}")
CREDENTIALS = {
    "valid": {"api_key": "sk_test_PkSandboxPortalKey01"},
    "wrong": {"api_key": "sk_test_PkSandboxWrongKey001"},
    "no_scope": {"api_key": "rk_test_PkSandboxReadOnly001"},
}
# key -> may it use the billing portal? (a restricted key without its permissions: no)
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}

LOCALES = frozenset(
    [
        "auto",
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "en-AU",
        "en-CA",
        "en-GB",
        "en-IE",
        "en-IN",
        "en-NZ",
        "en-SG",
        "es",
        "es-419",
        "et",
        "fi",
        "fil",
        "fr",
        "fr-CA",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lt",
        "lv",
        "ms",
        "mt",
        "nb",
        "nl",
        "pl",
        "pt",
        "pt-BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sv",
        "th",
        "tr",
        "vi",
        "zh",
        "zh-HK",
        "zh-TW",
    ]
)
FLOW_TYPES = (
    "payment_method_update",
    "subscription_cancel",
    "subscription_update",
    "subscription_update_confirm",
    "customer_update",
)
AFTER_COMPLETION_TYPES = ("hosted_confirmation", "portal_homepage", "redirect")
# flow type -> (the portal action it opens, the configuration feature it needs)
_FLOW_ACTIONS = {
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
# What the hosted confirmation says when the session set no custom message.
_DONE = {
    "payment_method_update": "Your payment method has been updated.",
    "subscription_cancel": "Your subscription has been canceled.",
    "subscription_update": "Your subscription has been updated.",
    "subscription_update_confirm": "Your subscription has been updated.",
    "customer_update": "Your information has been updated.",
}

# -- what each endpoint takes: a shape to check a decoded form against ------------------------
# A dict is an object (its keys are all it takes), [shape] a list, and a leaf a kind:
# "string", "id" (a non-empty string), "boolean", "integer", "metadata" (string -> string).

_SESSION_PARAMS: dict[str, Any] = {
    "configuration": "id",
    "customer": "id",
    "customer_account": "id",
    "expand": ["string"],
    "flow_data": {
        "after_completion": {
            "hosted_confirmation": {"custom_message": "string"},
            "redirect": {"return_url": "string"},
            "type": "string",
        },
        "subscription_cancel": {
            "retention": {"coupon_offer": {"coupon": "id"}, "type": "string"},
            "subscription": "id",
        },
        "subscription_update": {"subscription": "id"},
        "subscription_update_confirm": {
            "discounts": [{"coupon": "id", "promotion_code": "id"}],
            "items": [{"id": "id", "price": "id", "quantity": "integer"}],
            "subscription": "id",
        },
        "type": "string",
    },
    "locale": "string",
    "on_behalf_of": "id",
    "return_url": "string",
}
_FEATURES: dict[str, Any] = {
    "customer_update": {"allowed_updates": ["string"], "enabled": "boolean"},
    "invoice_history": {"enabled": "boolean"},
    "payment_method_update": {"enabled": "boolean", "payment_method_configuration": "id"},
    "subscription_cancel": {
        "cancellation_reason": {"enabled": "boolean", "options": ["string"]},
        "enabled": "boolean",
        "mode": "string",
        "proration_behavior": "string",
    },
    "subscription_pause": {
        "duration": {
            "interval_options": [{"interval": "string", "interval_count": "integer"}],
            "type": "string",
        },
        "enabled": "boolean",
    },
    "subscription_update": {
        "billing_cycle_anchor": "string",
        "default_allowed_updates": ["string"],
        "enabled": "boolean",
        "products": [
            {
                "adjustable_quantity": {
                    "enabled": "boolean",
                    "maximum": "integer",
                    "minimum": "integer",
                },
                "prices": ["id"],
                "product": "id",
            }
        ],
        "proration_behavior": "string",
        "schedule_at_period_end": {"conditions": [{"type": "string"}]},
        "trial_update_behavior": "string",
    },
}
_CONFIGURATION_PARAMS: dict[str, Any] = {
    "business_profile": {
        "headline": "string",
        "privacy_policy_url": "string",
        "terms_of_service_url": "string",
    },
    "default_return_url": "string",
    "expand": ["string"],
    "features": _FEATURES,
    "login_page": {"enabled": "boolean"},
    "metadata": "metadata",
    "name": "string",
}
_LIST_PARAMS: dict[str, Any] = {
    "active": "boolean",
    "ending_before": "id",
    "expand": ["string"],
    "is_default": "boolean",
    "limit": "integer",
    "starting_after": "id",
}
# Enumerations inside a configuration's features (field path -> allowed values).
_ENUMS: dict[str, tuple[str, ...]] = {
    "features[customer_update][allowed_updates]": (
        "address",
        "email",
        "name",
        "phone",
        "shipping",
        "tax_id",
    ),
    "features[subscription_cancel][mode]": ("at_period_end", "immediately"),
    "features[subscription_cancel][proration_behavior]": (
        "always_invoice",
        "create_prorations",
        "none",
    ),
    "features[subscription_cancel][cancellation_reason][options]": (
        "customer_service",
        "low_quality",
        "missing_features",
        "other",
        "switched_service",
        "too_complex",
        "too_expensive",
        "unused",
    ),
    "features[subscription_update][default_allowed_updates]": (
        "price",
        "promotion_code",
        "quantity",
    ),
    "features[subscription_update][proration_behavior]": (
        "always_invoice",
        "create_prorations",
        "none",
    ),
}


def _bad(message: str, param: str, code: str = "") -> Invalid:
    return Invalid(400, code, message, param)


def _checked(value: Any, shape: Any, path: str) -> Any:
    """``value`` (a decoded form: strings, dicts, lists) against ``shape``, typed: booleans
    and integers parsed, ``""`` for a list read as the empty list (Stripe's way to clear
    one). Raises Stripe's 400 for an unknown parameter or a value of the wrong kind."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _bad(f"Invalid object: {path} must be an object.", path, "parameter_invalid")
        out = {}
        for key, inner in value.items():
            name = f"{path}[{key}]" if path else key
            if key not in shape:
                raise _bad(f"Received unknown parameter: {name}", name, "parameter_unknown")
            out[key] = _checked(inner, shape[key], name)
        return out
    if isinstance(shape, list):
        if value == "":
            return []
        if isinstance(value, dict) and all(k.isdigit() for k in value):  # a[5]=x without a[0]
            raise _bad(f"Invalid array: {path} must start at index 0.", path, "parameter_invalid")
        if not isinstance(value, list) or any(item is None for item in value):
            raise _bad(f"Invalid array: {path} must be an array.", path, "parameter_invalid")
        return [_checked(item, shape[0], f"{path}[{i}]") for i, item in enumerate(value)]
    if shape == "metadata":
        if value == "":
            return {}
        if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            raise _bad("Invalid metadata: must be a hash of strings.", path, "parameter_invalid")
        if len(value) > MAX_METADATA_KEYS:
            raise _bad(f"Invalid metadata: at most {MAX_METADATA_KEYS} keys.", path)
        for key, item in value.items():
            if len(key) > MAX_METADATA_KEY or len(item) > MAX_METADATA_VALUE:
                raise _bad(
                    f"Invalid metadata: keys must be at most {MAX_METADATA_KEY} characters and"
                    f" values at most {MAX_METADATA_VALUE}.",
                    f"{path}[{key}]",
                )
        return dict(value)
    if not isinstance(value, str):
        raise _bad(f"Invalid {shape}: {path} must be a {shape}.", path, "parameter_invalid")
    if shape == "boolean":
        if value not in ("true", "false"):
            raise _bad(f"Invalid boolean: {value}", path, "parameter_invalid_boolean")
        return value == "true"
    if shape == "integer":
        if not re.fullmatch(r"-?\d{1,15}", value):
            raise _bad(f"Invalid integer: {value}", path, "parameter_invalid_integer")
        return int(value)
    if len(value) > MAX_STRING:
        raise _bad(f"Invalid string: {path} must be at most {MAX_STRING} characters.", path)
    if shape == "id" and not value:
        raise _bad(
            f"You passed an empty string for '{path}'. We assume empty values are an attempt"
            " to unset a parameter; however '{path}' cannot be unset. You should remove"
            f" '{path}' from your request or supply a non-empty value.",
            path,
            "parameter_invalid_empty",
        )
    return value


def _missing(param: str) -> Invalid:
    return _bad(f"Missing required param: {param}.", param, "parameter_missing")


def _one_of(value: str, allowed: Sequence[str], param: str) -> None:
    if value not in allowed:
        raise _bad(f"Invalid {param}: must be one of {', '.join(allowed)}", param)


def _no_such(kind: str, value: str, param: str) -> Invalid:
    return _bad(f"No such {kind}: '{value}'", param, "resource_missing")


# -- authentication and the envelope ---------------------------------------------------------


def _mask(key: str) -> str:
    prefix, _, rest = key.partition("_test_")
    return f"{prefix}_test_{'*' * max(len(rest) - 4, 0)}{rest[-4:]}" if rest else "***"


def _authenticate(call: Call) -> None:
    """The key as stripe-python sends it (``Authorization: Bearer``), or Basic with the key
    as the user name (curl's ``-u sk_test_...:``), as Stripe takes both."""
    value = call.headers.get("authorization", "").strip()
    scheme, _, credential = value.partition(" ")
    key = credential.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key, validate=True).decode().partition(":")[0]
        except ValueError:
            key = ""
    elif scheme.lower() != "bearer":
        key = ""
    if not key:
        raise Invalid(
            401,
            "",
            "You did not provide an API key. You need to provide your API key in the"
            " Authorization header, using Bearer auth (e.g. 'Authorization: Bearer"
            " YOUR_SECRET_KEY').",
        )
    if key not in _KEYS:
        raise Invalid(401, "", f"Invalid API Key provided: {_mask(key)}")
    if not _KEYS[key]:
        permission = "rak_billing_portal_session_write"
        if call.route == CONFIGURATIONS:
            permission = "rak_billing_portal_configuration_write"
        raise Invalid(
            403,
            "",
            f"The provided key '{_mask(key)}' does not have the required permissions for this"
            f" endpoint on account '{ACCOUNT}'. Having the '{permission}' permission would"
            " allow this request to continue.",
        )
    account = call.headers.get("stripe-account")
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        raise Invalid(
            403,
            "account_invalid",
            "The provided key does not have access to account"
            f" '{account[:40]}' (or that account does not exist).",
        )


def error_reply(call: Call, exc: Invalid) -> Reply:
    kind = "invalid_request_error"
    if exc.status >= 500:
        kind = "api_error"
    elif exc.status == 409 or exc.code.startswith("idempotency"):
        kind = "idempotency_error"
    error: dict[str, Any] = {"type": kind, "message": exc.message}
    if exc.code:
        error["code"] = exc.code
        error["doc_url"] = DOCS + exc.code.replace("_", "-")
    if exc.field:
        error["param"] = exc.field
    error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{call.request_id}"
    headers = {"Request-Id": call.request_id}
    if exc.status >= 500:
        headers["Stripe-Should-Retry"] = "true"  # what Stripe says of an outage
    return Reply(exc.status, {"error": error}, headers)


def partial(call: Call) -> Reply:
    if call.route == SESSIONS:
        body = {"id": f"bps_{base62(24)}", "object": "billing_portal.session"}
    else:
        body = {"object": "list"} if call.method == "GET" else {"object": "configuration"}
    return Reply(200, body, {"Request-Id": call.request_id})


def _answer(call: Call, reply: Reply) -> Reply:
    """Every answer carries ``Request-Id``, a replayed one included."""
    return Reply(reply.status, reply.payload, {**reply.headers, "Request-Id": call.request_id})


def _form(call: Call) -> dict[str, Any]:
    try:
        return form_object(call.body)
    except ValueError as exc:
        raise Invalid(400, "", f"Invalid request body: {exc}") from None


def _post(call: Call, mint: Any) -> Reply:
    """A POST: authenticated, its body decoded, idempotent on ``Idempotency-Key``."""
    _authenticate(call)
    key = call.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Invalid(
            400,
            "",
            f"Invalid Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY} characters.",
            "Idempotency-Key",
        )
    body = _form(call)
    # Stripe's key is per account: the same key and body on the same endpoint is a replay.
    print_ = fingerprint(call.method, call.path, call.headers.get("stripe-account"), body)

    def conflict() -> Reply:
        return error_reply(
            call,
            Invalid(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they"
                f" were first used with. Try using a key other than '{key}' if you meant to"
                " execute a different request.",
            ),
        )

    return _answer(call, idempotent(call, key, print_, lambda: mint(call, body), conflict))


# -- configurations ----------------------------------------------------------------------------

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


def _configuration(call: Call, config_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = call.store.get_object("configuration", config_id)
    if found is None and config_id == DEFAULT_CONFIGURATION:
        _configurations(call)  # seeds the default (not on every create: it copies them all)
        found = call.store.get_object("configuration", config_id)
    return found


def list_configurations(call: Call) -> Reply:
    _authenticate(call)
    query = _checked(_query(call), _LIST_PARAMS, "")
    limit = query.get("limit", 10)
    if not 1 <= limit <= 100:
        raise _bad("Invalid limit: must be between 1 and 100.", "limit")
    if "starting_after" in query and "ending_before" in query:
        raise _bad(
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
                if _configuration(call, query[cursor]) is None:
                    raise _no_such("billing_portal.configuration", query[cursor], cursor)
                ids.append(query[cursor])  # filtered out: nothing after it in this view
                data = []
            else:
                at = ids.index(query[cursor])
                data = data[at + 1 :] if cursor == "starting_after" else data[:at]
    page = data[:limit] if "ending_before" not in query else data[-limit:]
    return _answer(
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
    return _post(call, _mint_configuration)


def _mint_configuration(call: Call, body: dict[str, Any]) -> Reply:
    params = _checked(body, _CONFIGURATION_PARAMS, "")
    if "features" not in params:
        raise _missing("features")
    _check_configuration(params)
    config_id = f"bpc_{base62(24)}"
    _configurations(call)  # the default first
    configuration = _configuration_object(config_id, params, int(call.now))
    call.store.put_object("configuration", config_id, configuration)
    return Reply(200, configuration)


def _check_configuration(params: Mapping[str, Any]) -> None:
    for path, allowed in _ENUMS.items():
        parts = re.findall(r"[^\[\]]+", path)
        value: Any = params
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        for item in value if isinstance(value, list) else [value] if value else []:
            _one_of(item, allowed, path)
    features = params.get("features", {})
    update = features.get("subscription_update", {})
    if update.get("enabled") and not update.get("products"):
        raise _bad(
            "To enable subscription updates, you must specify at least one product.",
            "features[subscription_update][products]",
        )
    if features.get("customer_update", {}).get("enabled") and not features["customer_update"].get(
        "allowed_updates"
    ):
        raise _bad(
            "To enable customer updates, you must specify at least one allowed update.",
            "features[customer_update][allowed_updates]",
        )
    for field in ("default_return_url",):
        if field in params and (problem := return_url_problem(params[field])):
            raise _bad(f"Invalid URL: {field} {problem}.", field, "url_invalid")


def retrieve_configuration(call: Call) -> Reply:
    _authenticate(call)
    config_id = call.path_params["configuration"]
    configuration = _configuration(call, config_id)
    if configuration is None:
        raise Invalid(
            404, "resource_missing", f"No such configuration: '{config_id[:255]}'", "configuration"
        )
    return _answer(call, Reply(200, configuration))


# -- sessions ----------------------------------------------------------------------------------


def create_session(call: Call) -> Reply:
    return _post(call, _mint_session)


def _mint_session(call: Call, body: dict[str, Any]) -> Reply:
    params = _checked(body, _SESSION_PARAMS, "")
    customer = params.get("customer")
    if customer is None:
        if "customer_account" in params:
            raise _bad("Accounts v2 customers are not emulated by the sandbox.", "customer_account")
        raise _missing("customer")
    if "locale" in params:
        _one_of(params["locale"], sorted(LOCALES), "locale")
    if "return_url" in params and (problem := return_url_problem(params["return_url"])):
        raise _bad(f"Invalid URL: return_url {problem}.", "return_url", "url_invalid")
    on_behalf_of = params.get("on_behalf_of")
    if on_behalf_of is not None and not ACCOUNT_ID.fullmatch(on_behalf_of):
        raise _no_such("account", on_behalf_of, "on_behalf_of")
    flow = _flow(params["flow_data"]) if "flow_data" in params else None
    # The resources, once the parameters are right.
    if not CUSTOMER_ID.fullmatch(customer) or not call.store.has_customer(customer):
        raise _no_such("customer", customer, "customer")
    config_id = params.get("configuration", DEFAULT_CONFIGURATION)
    configuration = _configuration(call, config_id)
    if configuration is None:
        raise _no_such("configuration", config_id, "configuration")
    if not configuration["active"]:
        raise _bad(
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
        raise _missing("flow_data[type]")
    _one_of(flow_type, FLOW_TYPES, "flow_data[type]")
    for other in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
        if other in data and other != flow_type:
            raise _bad(
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
            raise _missing(f"flow_data[{flow_type}]")
        if "subscription" not in details:
            raise _missing(f"flow_data[{flow_type}][subscription]")
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
        raise _missing(f"{param}[type]")
    _one_of(kind, AFTER_COMPLETION_TYPES, f"{param}[type]")
    for other in ("hosted_confirmation", "redirect"):
        if other in data and other != kind:
            raise _bad(
                f"{param}[{other}] can only be set when {param}[type] is {other}.",
                f"{param}[{other}]",
            )
    echo: dict[str, Any] = {"hosted_confirmation": None, "redirect": None, "type": kind}
    if kind == "redirect":
        url = data.get("redirect", {}).get("return_url")
        if url is None:
            raise _missing(f"{param}[redirect][return_url]")
        if problem := return_url_problem(url):
            raise _bad(f"Invalid URL: {problem}.", f"{param}[redirect][return_url]", "url_invalid")
        echo["redirect"] = {"return_url": url}
    elif kind == "hosted_confirmation":
        message = data.get("hosted_confirmation", {}).get("custom_message")
        if message is not None and len(message) > MAX_CUSTOM_MESSAGE:
            raise _bad(
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
        raise _missing(f"{param}[type]")
    _one_of(data["type"], ("coupon_offer",), f"{param}[type]")
    coupon = data.get("coupon_offer", {}).get("coupon")
    if coupon is None:
        raise _missing(f"{param}[coupon_offer][coupon]")
    return {"coupon_offer": {"coupon": coupon}, "type": "coupon_offer"}


def _items(data: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    param = "flow_data[subscription_update_confirm][items]"
    if not data:
        raise _missing(param)
    if len(data) > MAX_CONFIRM_ITEMS:
        raise _bad(f"Invalid array: {param} takes at most {MAX_CONFIRM_ITEMS} item.", param)
    items = []
    for index, item in enumerate(data):
        if "id" not in item:
            raise _missing(f"{param}[{index}][id]")
        if not ITEM_ID.fullmatch(item["id"]):
            raise _no_such("subscription item", item["id"], f"{param}[{index}][id]")
        if item.get("quantity", 0) < 0:
            raise _bad("This value must be greater than or equal to 0.", f"{param}[{index}]")
        items.append(
            {"id": item["id"], "price": item.get("price"), "quantity": item.get("quantity")}
        )
    return items


def _discounts(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    param = "flow_data[subscription_update_confirm][discounts]"
    if len(data) > MAX_DISCOUNTS:
        raise _bad(f"Invalid array: {param} takes at most {MAX_DISCOUNTS} discount.", param)
    discounts = []
    for index, discount in enumerate(data):
        if len(discount) != 1:
            raise _bad(
                "You may only specify one of these parameters: coupon, promotion_code.",
                f"{param}[{index}]",
                "parameters_exclusive",
            )
        code = discount.get("promotion_code")
        if code is not None and not PROMOTION_CODE_ID.fullmatch(code):
            raise _no_such("promotion code", code, f"{param}[{index}][promotion_code]")
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
            raise _no_such("subscription", subscription, param)
        if owner != customer:
            raise _bad(
                f"The subscription '{subscription}' does not belong to the customer '{customer}'.",
                param,
            )
    feature = _FLOW_ACTIONS[flow_type][1]
    if not configuration["features"][feature]["enabled"]:
        raise _bad(
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


# -- the hosted portal -------------------------------------------------------------------------

_PAGE_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"


def allowed_actions(session: Session, actions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The portal's actions the session's configuration has on."""
    shown = session.configuration or {}
    return [(a, label) for a, label in actions if shown.get(a, True)]


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /stripe/p/test_...``: the path is the credential. Without a flow, the portal's
    home page; with one, the flow's own page (the portal cookie is set either way)."""
    session = pages.store.session_by_link(request.path_params["token"])
    if session is None:
        return pages.refused("missing")
    flow = session.extra.get("flow")
    if flow is None:
        return pages.open(request, session.id)
    action = _FLOW_ACTIONS[flow["type"]][0]
    subscription = session.subscription_ids[0] if session.subscription_ids else None
    opened = pages.open(request, session.id, action=action, subscription_id=subscription)
    if request.method == "HEAD" or opened.status_code != 200:
        return opened
    page = _flow_page(session, flow, action, subscription)
    for name, value in opened.raw_headers:
        if name == b"set-cookie":
            page.raw_headers.append((name, value))
    return page


def _flow_page(
    session: Session, flow: Mapping[str, Any], action: str, subscription: str | None
) -> HTMLResponse:
    flow_type = flow["type"]
    details = flow.get(flow_type) or {}
    rows = [("customer-id", "Customer", session.customer_id), ("session-id", "Session", session.id)]
    parts = [
        '<h1 id="portal-title">Stripe customer portal</h1>\n',
        '<p id="sandbox-notice">portalkit sandbox: nothing here is real.</p>\n<dl>\n',
        *(f'<dt>{label}</dt><dd id="{eid}">{escape(value)}</dd>\n' for eid, label, value in rows),
        "</dl>\n",
        f'<p id="preopened-action" data-action="{escape(action)}" '
        f'data-subscription-id="{escape(subscription or "")}" '
        f'data-flow-type="{escape(flow_type)}">'
        f"Opened at: {escape(_LABELS[flow_type])}"
        f"{escape(' for ' + subscription) if subscription else ''}</p>\n",
    ]
    retention = details.get("retention")
    if retention:
        coupon = retention["coupon_offer"]["coupon"]
        parts.append(
            f'<p id="retention-offer" data-coupon="{escape(coupon)}">Before you go: coupon'
            f" {escape(coupon)} is yours if you stay.</p>\n"
        )
    for item in details.get("items") or []:
        parts.append(
            f'<p class="confirm-item" data-item="{escape(item["id"])}">{escape(item["id"])}:'
            f" price {escape(str(item['price']))}, quantity {escape(str(item['quantity']))}</p>\n"
        )
    after = flow["after_completion"]["type"]
    parts.append(
        f'<form id="flow-form" method="post" action="/stripe/p/{escape(session.token)}/complete"'
        f' data-after-completion="{escape(after)}">\n'
        f'<input type="hidden" name="flow_secret" value="{escape(session.extra["flow_secret"])}">\n'
        f'<button id="flow-confirm" type="submit">{escape(_CONFIRM[flow_type])}</button>\n'
        "</form>\n"
    )
    back = session.return_url
    if back:
        parts.append(
            f'<p><a id="back-to-merchant" href="{escape(back, quote=True)}" rel="noreferrer">'
            "Back to merchant</a></p>\n"
        )
    csp = _PAGE_CSP
    if after == "redirect":  # the form's answer redirects there: allow the navigation
        csp += " " + _origin(flow["after_completion"]["redirect"]["return_url"])
    return _html("Stripe customer portal (portalkit sandbox)", "".join(parts), csp, session)


_LABELS = {
    "payment_method_update": "Update payment method",
    "subscription_cancel": "Cancel subscription",
    "subscription_update": "Update subscription",
    "subscription_update_confirm": "Confirm subscription update",
    "customer_update": "Update customer information",
}
_CONFIRM = {
    "payment_method_update": "Save payment method",
    "subscription_cancel": "Cancel subscription",
    "subscription_update": "Update subscription",
    "subscription_update_confirm": "Confirm",
    "customer_update": "Save",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)  # checked at create: https, or http to loopback
    return f"{parts.scheme}://{parts.netloc}"


def _html(
    title: str, body: str, csp: str, session: Session | None = None, status: int = 200
) -> HTMLResponse:
    lang = escape(session.locale or "en") if session else "en"
    document = (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(document, status, {"Content-Security-Policy": csp})


async def complete_flow(request: Request, pages: Pages) -> Response:
    """``POST /stripe/p/test_.../complete``: the customer confirmed the flow (the form's
    ``flow_secret`` proves the page was opened); carry out its ``after_completion``."""
    session = pages.store.session_by_link(request.path_params["token"])
    if session is None or session.extra.get("flow") is None:
        return pages.refused("missing")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    given = form.get("flow_secret", "")
    if not session.used or not secrets.compare_digest(
        given.encode(), str(session.extra["flow_secret"]).encode()
    ):
        return pages.refused("forbidden")
    if pages.store.get_object("flow_completion", session.id) is not None:
        return pages.refused("used")
    flow = session.extra["flow"]
    after = flow["after_completion"]
    pages.store.put_object(
        "flow_completion",
        session.id,
        {"type": flow["type"], "after_completion": after["type"], "at": pages.store.now()},
    )
    if after["type"] == "redirect":
        return RedirectResponse(after["redirect"]["return_url"], 303)
    if after["type"] == "portal_homepage":
        return RedirectResponse("/stripe/session", 303)
    message = (after.get("hosted_confirmation") or {}).get("custom_message") or _DONE[flow["type"]]
    body = (
        '<h1 id="flow-complete">Done</h1>\n'
        f'<p id="confirmation-message">{escape(message)}</p>\n'
        '<p><a id="portal-home" href="/stripe/session">Return to the portal</a></p>\n'
    )
    return _html("Done (portalkit sandbox)", body, _PAGE_CSP, session)


TWIN = Twin(
    name="stripe",
    title="Stripe",
    description="Stripe: customer portal sessions (form-encoded, strict), flows with"
    " after-completion, portal configurations, idempotency keys.",
    routes=(
        ApiRoute("POST", SESSIONS, create_session),
        ApiRoute("GET", CONFIGURATIONS, list_configurations),
        ApiRoute("POST", CONFIGURATIONS, create_configuration),
        ApiRoute("GET", CONFIGURATIONS + "/{configuration}", retrieve_configuration),
    ),
    pages=(
        PageRoute("GET", "/stripe/p/{token}", open_link),
        PageRoute("POST", "/stripe/p/{token}/complete", complete_flow),
    ),
    credentials=CREDENTIALS,
    customers={
        "cus_PkSandboxCust01": ("sub_1PkSandboxSub0101", "sub_1PkSandboxSub0102"),
        "cus_PkSandboxCust02": ("sub_1PkSandboxSub0201",),
        "cus_PkSandboxCust03": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"cus_{base62(14)}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"sub_1{base62(23)}"),
    request_id=lambda now: f"req_{base62(14)}",
    error_reply=error_reply,
    partial=partial,
    status_codes={
        400: "parameter_invalid",
        409: "idempotency_key_in_use",
        429: "rate_limit",
    },
    actions=(
        ("update_subscription", "Update subscription"),
        ("cancel_subscription", "Cancel subscription"),
        ("update_payment_method", "Update payment method"),
        ("view_invoices", "Invoice history"),
        ("update_customer_details", "Update customer information"),
    ),
    allowed_actions=allowed_actions,
    preopened_labels={
        "cancel_subscription": "Cancel subscription",
        "update_subscription": "Update subscription",
        "update_payment_method": "Update payment method",
        "update_customer_details": "Update customer information",
    },
    secret_headers=frozenset(),
    url_secrets=(r"/stripe/p/(?P<token>[^\"'\s/?#&]+)",),
    # Stripe's events for what the customer does in the portal: providers/stripe_twin_webhooks.py.
    webhooks=twin_webhooks(SEEDED_PRODUCT, SEEDED_PRICES),
)
