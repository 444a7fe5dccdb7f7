"""What the Stripe twin's endpoints take (providers/stripe_sandbox.py), restated from
Stripe's API reference: the ids, the locales, the flow types, each endpoint's parameters
as a shape, and ``checked``, which reads a decoded form against a shape and raises Stripe's
400 (``parameter_unknown``, ``parameter_invalid_*``, ...) naming the parameter in ``param``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from portalkit.sandbox.twin import Invalid

#: The spec's cap on ids and strings.
MAX_STRING = 5000
#: Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 50, 40, 500

CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,250}")
SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9]{1,250}")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,250}")
CONFIGURATION_ID = re.compile(r"bpc_[A-Za-z0-9]{1,250}")
ITEM_ID = re.compile(r"si_[A-Za-z0-9]{1,250}")
PROMOTION_CODE_ID = re.compile(r"promo_[A-Za-z0-9]{1,250}")

#: Stripe's portal locales (session create, ``locale``), plus ``auto``: restated here, as
#: the twin imports nothing from the adapter (whose list is in providers/stripe_locales.py).
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

# -- what each endpoint takes: a shape to check a decoded form against ------------------------
# A dict is an object (its keys are all it takes), [shape] a list, and a leaf a kind:
# "string", "id" (a non-empty string), "boolean", "integer", "metadata" (string -> string).

SESSION_PARAMS: dict[str, Any] = {
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
CONFIGURATION_PARAMS: dict[str, Any] = {
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
LIST_PARAMS: dict[str, Any] = {
    "active": "boolean",
    "ending_before": "id",
    "expand": ["string"],
    "is_default": "boolean",
    "limit": "integer",
    "starting_after": "id",
}
# Enumerations inside a configuration's features (field path -> allowed values).
ENUMS: dict[str, tuple[str, ...]] = {
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


def bad(message: str, param: str, code: str = "") -> Invalid:
    return Invalid(400, code, message, param)


def checked(value: Any, shape: Any, path: str) -> Any:
    """``value`` (a decoded form: strings, dicts, lists) against ``shape``, typed: booleans
    and integers parsed, ``""`` for a list read as the empty list (Stripe's way to clear
    one). Raises Stripe's 400 for an unknown parameter or a value of the wrong kind."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise bad(f"Invalid object: {path} must be an object.", path, "parameter_invalid")
        out = {}
        for key, inner in value.items():
            name = f"{path}[{key}]" if path else key
            if key not in shape:
                raise bad(f"Received unknown parameter: {name}", name, "parameter_unknown")
            out[key] = checked(inner, shape[key], name)
        return out
    if isinstance(shape, list):
        if value == "":
            return []
        if isinstance(value, dict) and all(k.isdigit() for k in value):  # a[5]=x without a[0]
            raise bad(f"Invalid array: {path} must start at index 0.", path, "parameter_invalid")
        if not isinstance(value, list) or any(item is None for item in value):
            raise bad(f"Invalid array: {path} must be an array.", path, "parameter_invalid")
        return [checked(item, shape[0], f"{path}[{i}]") for i, item in enumerate(value)]
    if shape == "metadata":
        if value == "":
            return {}
        if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            raise bad("Invalid metadata: must be a hash of strings.", path, "parameter_invalid")
        if len(value) > MAX_METADATA_KEYS:
            raise bad(f"Invalid metadata: at most {MAX_METADATA_KEYS} keys.", path)
        for key, item in value.items():
            if len(key) > MAX_METADATA_KEY or len(item) > MAX_METADATA_VALUE:
                raise bad(
                    f"Invalid metadata: keys must be at most {MAX_METADATA_KEY} characters and"
                    f" values at most {MAX_METADATA_VALUE}.",
                    f"{path}[{key}]",
                )
        return dict(value)
    if not isinstance(value, str):
        raise bad(f"Invalid {shape}: {path} must be a {shape}.", path, "parameter_invalid")
    if shape == "boolean":
        if value not in ("true", "false"):
            raise bad(f"Invalid boolean: {value}", path, "parameter_invalid_boolean")
        return value == "true"
    if shape == "integer":
        if not re.fullmatch(r"-?\d{1,15}", value):
            raise bad(f"Invalid integer: {value}", path, "parameter_invalid_integer")
        return int(value)
    if len(value) > MAX_STRING:
        raise bad(f"Invalid string: {path} must be at most {MAX_STRING} characters.", path)
    if shape == "id" and not value:
        raise bad(
            f"You passed an empty string for '{path}'. We assume empty values are an attempt"
            " to unset a parameter; however '{path}' cannot be unset. You should remove"
            f" '{path}' from your request or supply a non-empty value.",
            path,
            "parameter_invalid_empty",
        )
    return value


def missing(param: str) -> Invalid:
    return bad(f"Missing required param: {param}.", param, "parameter_missing")


def one_of(value: str, allowed: Sequence[str], param: str) -> None:
    if value not in allowed:
        raise bad(f"Invalid {param}: must be one of {', '.join(allowed)}", param)


def no_such(kind: str, value: str, param: str) -> Invalid:
    return bad(f"No such {kind}: '{value}'", param, "resource_missing")
