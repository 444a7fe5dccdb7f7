"""The Stripe adapter's managed portal configurations (see providers/stripe.py, "A
per-session PortalConfiguration"): Stripe's sessions take no feature toggles, only a
configuration (``bpc_...``), so for a request's toggles the adapter derives one from the
base configuration and caches its id per process.

Here: the per-process cache (and ``forget_managed_configurations``, to empty it), the
fingerprint that names a derived configuration (kept in its metadata, so another process
finds it in the account's list, and in its create's Idempotency-Key, so two that miss at
once make one), and the create parameters copied from the base with the toggles applied.
The requests themselves are the adapter's (``Stripe.exchange``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

from portalkit._models import Action

#: The derived configuration's metadata key for its fingerprint.
FINGERPRINT_METADATA = "portalkit_fingerprint"

# PortalConfiguration toggle -> the configuration feature it switches.
_CONFIGURATION_FEATURES: dict[Action, str] = {
    Action.CANCEL_SUBSCRIPTION: "subscription_cancel",
    Action.UPDATE_SUBSCRIPTION: "subscription_update",
    Action.UPDATE_PAYMENT_METHOD: "payment_method_update",
    Action.VIEW_INVOICES: "invoice_history",
}

#: What POST /v1/billing_portal/configurations takes, as a shape to copy the base
#: configuration through: a key maps to None (copy the value) or to the shape of an object
#: (a dict) or of a list of objects (a one-element list). A configuration object holds more
#: than its create call takes (login_page.url, livemode, ...); Stripe refuses an unknown
#: parameter, so only these are copied.
_CREATABLE: dict[str, Any] = {
    "business_profile": {
        "headline": None,
        "privacy_policy_url": None,
        "terms_of_service_url": None,
    },
    "default_return_url": None,
    "features": {
        "customer_update": {"allowed_updates": None, "enabled": None},
        "invoice_history": {"enabled": None},
        "payment_method_update": {"enabled": None, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": None, "options": None},
            "enabled": None,
            "mode": None,
            "proration_behavior": None,
        },
        "subscription_pause": {
            "duration": {
                "interval_options": [{"interval": None, "interval_count": None}],
                "type": None,
            },
            "enabled": None,
        },
        "subscription_update": {
            "billing_cycle_anchor": None,
            "default_allowed_updates": None,
            "enabled": None,
            "products": [
                {
                    "adjustable_quantity": {"enabled": None, "maximum": None, "minimum": None},
                    "prices": None,
                    "product": None,
                }
            ],
            "proration_behavior": None,
            "schedule_at_period_end": {"conditions": [{"type": None}]},
            "trial_update_behavior": None,
        },
    },
    "login_page": {"enabled": None},
}


class _ManagedConfigurations:
    """Managed configuration ids, per process: (account, base, toggles) -> ``bpc_...``.

    Thread-safe for its own reads and writes; no I/O under the lock. Two threads that miss
    at once both derive the configuration, and Stripe's idempotency (the same derived key)
    gives both the same one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, ...], str] = {}

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            return self._ids.get(key)

    def put(self, key: tuple[str, ...], configuration_id: str) -> None:
        with self._lock:
            self._ids[key] = configuration_id

    def forget(self, key: tuple[str, ...], configuration_id: str) -> None:
        with self._lock:
            if self._ids.get(key) == configuration_id:
                del self._ids[key]

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()


managed_configurations = _ManagedConfigurations()


def forget_managed_configurations() -> None:
    """Forget every managed configuration id this process cached: the next session with
    configuration toggles reads the base configuration again (after you changed it in the
    dashboard, say)."""
    managed_configurations.clear()


def configuration_fingerprint(
    base_id: str, base_updated: int | None, toggles: Mapping[Action, bool]
) -> str:
    """What names a derived configuration: its base (the id, and the update time, so an
    edited base gets a new one) and the toggles."""
    material = json.dumps(
        {
            "base": base_id,
            "updated": base_updated,
            "toggles": {action.value: allowed for action, allowed in sorted(toggles.items())},
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _copy_creatable(value: Any, shape: Any) -> Any:
    """The parts of a configuration object its create call takes (see ``_CREATABLE``)."""
    if shape is None:
        return "" if value == [] else value  # Stripe's way to send an empty list
    if isinstance(shape, list):
        if not isinstance(value, list):
            return None
        copied = [_copy_creatable(item, shape[0]) for item in value]
        return copied or ""
    if not isinstance(value, Mapping):
        return None
    out = {}
    for key, inner in shape.items():
        copied = _copy_creatable(value.get(key), inner)
        if copied is not None:
            out[key] = copied
    return out


def derived_params(
    base: Mapping[str, Any], toggles: Mapping[Action, bool], fingerprint: str
) -> dict[str, Any]:
    """The derived configuration's create parameters: the base's, the toggles' features
    switched, a name that says what it is, and the fingerprint in its metadata."""
    params: dict[str, Any] = _copy_creatable(base, _CREATABLE)
    features = params.setdefault("features", {})
    for action, allowed in toggles.items():
        features.setdefault(_CONFIGURATION_FEATURES[action], {})["enabled"] = allowed
    shown = ", ".join(
        f"{action.value}={str(allowed).lower()}" for action, allowed in toggles.items()
    )
    params["name"] = f"portalkit: {base['id']} with {shown}"
    params["metadata"] = {FINGERPRINT_METADATA: fingerprint, "portalkit_base": base["id"]}
    return params
