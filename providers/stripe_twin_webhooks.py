"""The Stripe twin's webhooks: the events Stripe sends when a customer acts in its customer
portal, signed as Stripe signs them (``Stripe-Signature``), so that stripe-python's
``stripe.Webhook.construct_event`` verifies and parses the sandbox's deliveries as it does
Stripe's. Split from providers/stripe_sandbox.py (which is long enough); it builds the
``TwinWebhooks`` that module's ``TWIN`` carries.

Restated from Stripe's documentation, an independent witness: nothing here comes from
portalkit's own Stripe webhook code nor from ``portalkit._signatures``.

- The scheme (Stripe docs -> Webhooks -> "Verify webhook signatures"; stripe-python
  ``stripe/_webhook.py``): ``Stripe-Signature: t=<unix>,v1=<hex>``, the hex HMAC-SHA256 of
  ``"{t}.{raw body}"`` keyed with the ``whsec_...`` secret's UTF-8 bytes as given. (Test-mode
  deliveries also carry a ``v0`` signature, which no verifier reads: left out.)
- The envelope (API reference -> Events -> "The Event object"): ``{id: "evt_...", object:
  "event", api_version, created (unix), data: {object, previous_attributes}, livemode,
  pending_webhooks, request: {id, idempotency_key}, type}``. ``previous_attributes`` holds the
  old values of what changed, on ``*.updated`` events only: a nested hash by the keys that
  changed in it, a list (``items``) whole.
- The objects (API reference -> Subscriptions / Payment methods / Customers -> the object),
  at ``API_VERSION``: since 2025-03-31.basil the billing period is each item's
  (``items.data[].current_period_start``/``_end``), and a period-end cancellation sets
  ``cancel_at`` too.
- What a portal action sends (Stripe docs -> Customer portal -> "Integrate the customer
  portal", its webhook list): cancelling (Stripe's portal cancels at the period's end by
  default) is ``customer.subscription.updated`` with ``cancel_at_period_end: true``,
  ``cancel_at``, ``canceled_at`` and ``cancellation_details.reason: "cancellation_requested"``;
  renewing a cancelled subscription clears them; a plan change is
  ``customer.subscription.updated`` with the old ``items`` in ``previous_attributes``; a new
  payment method is ``payment_method.attached`` then ``customer.updated`` (it becomes the
  customer's ``invoice_settings.default_payment_method``). The subscription's end is
  ``customer.subscription.deleted``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from portalkit import EventType
from portalkit.sandbox.twin import Change, SubscriptionState, TwinWebhooks, base62, utc

#: The API version of the twin's events: the one stripe-python 16.1 pins (``stripe.api_version``)
#: and the version the adapter sends, so the SDK reads the twin's events at the version it
#: was generated for. (A webhook endpoint gets events at the version it was created with.)
API_VERSION = "2026-10-28.endive"
#: The sandbox endpoint's signing secret, in Stripe's format (``whsec_`` and 32 characters).
WEBHOOK_SECRET = "whsec_PkSandboxStripeWebhookSecret0001"  # noqa: S105 -- a fixed sandbox secret
SIGNATURE_HEADER = "Stripe-Signature"
#: Who Stripe's deliveries say they are from (the sandbox sends the JSON body's Content-Type).
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
PAYMENT_METHOD_ATTACHED = "payment_method.attached"
CUSTOMER_UPDATED = "customer.updated"

#: The metadata key a bare update changes (see ``_subscription_updated``).
UPDATE_MARKER = "portalkit_sandbox_update"

#: What a change costs per interval, for the sandbox's two prices (the seeded portal
#: configuration's): a monthly and a yearly price of one product, in cents.
_AMOUNTS = {"month": 1500, "year": 15000}


# -- the signature ---------------------------------------------------------------------------


def sign(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """Stripe's headers for ``body``: ``Stripe-Signature: t=<timestamp>,v1=<hex>``. Stripe
    sends no delivery id (the event's ``id`` is the one to dedupe on)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {
        SIGNATURE_HEADER: f"t={timestamp},v1={digest}",
        "User-Agent": USER_AGENT,
    }


# -- ids -------------------------------------------------------------------------------------


def event_id(now: float) -> str:
    """``evt_1...``: 28 characters, as Stripe's (``evt_1MqUQ4LgUG5tbmjcG0Ou4LkD``)."""
    return f"evt_1{base62(23)}"


def payment_method_id(now: float) -> str:
    """``pm_1...``: 27 characters, as Stripe's (``pm_1MoqxLLgUG5tbmjcq5SgxPTF``)."""
    return f"pm_1{base62(23)}"


def _item_id(subscription_id: str) -> str:
    """The subscription's one item keeps its id across events (``si_...``)."""
    return "si_" + subscription_id.removeprefix("sub_")[:24]


def _digest(value: str, length: int) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:length].upper()


# -- the objects -----------------------------------------------------------------------------


def _interval(price_id: str, prices: tuple[str, ...]) -> str:
    """The sandbox's first price is monthly, the others yearly."""
    return "month" if price_id == prices[0] else "year"


def _price(price_id: str, product: str, prices: tuple[str, ...], created: int) -> dict[str, Any]:
    interval = _interval(price_id, prices)
    amount = _AMOUNTS[interval]
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": product,
        "recurring": {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def _plan(price_id: str, product: str, prices: tuple[str, ...], created: int) -> dict[str, Any]:
    """The item's ``plan``: the older name of its price, still sent beside it."""
    interval = _interval(price_id, prices)
    amount = _AMOUNTS[interval]
    return {
        "id": price_id,
        "object": "plan",
        "active": True,
        "amount": amount,
        "amount_decimal": str(amount),
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "interval": interval,
        "interval_count": 1,
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": None,
        "product": product,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def subscription_object(
    state: SubscriptionState, product: str, prices: tuple[str, ...]
) -> dict[str, Any]:
    """A ``subscription`` at ``API_VERSION`` with one item on ``state.plan``."""
    created = int(state.created_at)
    ends = state.cancel_at_period_end
    item: dict[str, Any] = {
        "id": _item_id(state.id),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": int(state.current_period_end),
        "current_period_start": int(state.current_period_start),
        "discounts": [],
        "metadata": {},
        "plan": _plan(state.plan, product, prices, created),
        "price": _price(state.plan, product, prices, created),
        "quantity": 1,
        "subscription": state.id,
        "tax_rates": [],
    }
    return {
        "id": state.id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": int(state.current_period_start),
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
        "billing_thresholds": None,
        # A period-end cancellation sets cancel_at to the period's end (basil and later).
        "cancel_at": int(state.current_period_end) if ends else None,
        "cancel_at_period_end": ends,
        "canceled_at": _unix(state.canceled_at),
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if state.canceled_at is not None else None,
        },
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "customer": state.customer_id,
        "customer_account": None,
        "days_until_due": None,
        # None: invoices use the customer's default (invoice_settings), which the portal sets.
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": _unix(state.ended_at),
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={state.id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": state.status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def payment_method_object(state: SubscriptionState, now: float) -> dict[str, Any]:
    """A ``payment_method``: Stripe's test card (``4242``), attached to the customer."""
    return {
        "id": state.payment_method,
        "object": "payment_method",
        "allow_redisplay": "always",
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "card": {
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "display_brand": "visa",
            "exp_month": 12,
            "exp_year": utc(now).year + 3,
            "fingerprint": _digest(state.payment_method, 16).lower(),
            "funding": "credit",
            "generated_from": None,
            "last4": "4242",
            "networks": {"available": ["visa"], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": int(now),
        "customer": state.customer_id,
        "customer_account": None,
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def customer_object(state: SubscriptionState) -> dict[str, Any]:
    """A ``customer`` whose default payment method is ``state.payment_method``."""
    return {
        "id": state.customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": int(state.created_at),
        "currency": "usd",
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": None,
        "invoice_prefix": _digest(state.customer_id, 8),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": state.payment_method,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def _unix(value: float | None) -> int | None:
    return None if value is None else int(value)


def previous_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed, with its old value, as Stripe writes ``data.previous_attributes``: a
    nested hash by the keys that changed in it (``cancellation_details: {reason: null}``), a
    list or a list object (``items``) whole."""
    changed: dict[str, Any] = {}
    for key, old in before.items():
        new = after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("object") != "list":
            changed[key] = previous_attributes(old, new)
        else:
            changed[key] = old
    return changed


# -- the events ------------------------------------------------------------------------------


def _event(
    event_type: str, obj: dict[str, Any], now: float, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id(now),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(now),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        # The portal acts through Stripe's API: the event names that request.
        "request": {"id": f"req_{base62(14)}", "idempotency_key": None},
        "type": event_type,
    }


#: ``TwinWebhooks.events``: ``(change, before, after, now)`` to Stripe's events.
Events = Callable[[Change, SubscriptionState, SubscriptionState, float], list[dict[str, Any]]]


def events_builder(product: str, prices: tuple[str, ...]) -> Events:
    """The twin's ``TwinWebhooks.events`` for a sandbox whose plans are ``prices`` (of
    ``product``)."""

    def events(
        change: Change, before: SubscriptionState, after: SubscriptionState, now: float
    ) -> list[dict[str, Any]]:
        if change is EventType.PAYMENT_METHOD_UPDATED:
            # The new card is attached, then made the customer's default.
            old, new = customer_object(before), customer_object(after)
            return [
                _event(PAYMENT_METHOD_ATTACHED, payment_method_object(after, now), now),
                _event(CUSTOMER_UPDATED, new, now, previous_attributes(old, new)),
            ]
        new = subscription_object(after, product, prices)
        if change is EventType.SUBSCRIPTION_CANCELED:
            return [_event(SUBSCRIPTION_DELETED, new, now)]
        previous = previous_attributes(subscription_object(before, product, prices), new)
        if change is EventType.SUBSCRIPTION_UPDATED and not previous:
            new, previous = _subscription_updated(new, after)
        return [_event(SUBSCRIPTION_UPDATED, new, now, previous)]

    return events


def _subscription_updated(
    obj: dict[str, Any], state: SubscriptionState
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bare update (``Sandbox.trigger(..., SUBSCRIPTION_UPDATED)``) changes nothing the
    sandbox's state holds; Stripe sends no ``customer.subscription.updated`` without a change,
    so it shows as the smallest one it reports: a metadata edit (this event only)."""
    marked = {**obj, "metadata": {UPDATE_MARKER: str(state.version)}}
    return marked, {"metadata": {}}


# -- what the twin declares ------------------------------------------------------------------

#: Every change the twin has Stripe's events for.
CHANGES = frozenset(
    {
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_UNCANCELED,
        EventType.SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
        EventType.SUBSCRIPTION_UPDATED,
        EventType.PAYMENT_METHOD_UPDATED,
    }
)
#: The portal's actions (stripe_sandbox's ``actions``) and what each does to the
#: subscription. Stripe's portal cancels at the period's end unless the configuration's
#: ``features.subscription_cancel.mode`` is ``immediately`` (the sandbox applies its
#: default). ``view_invoices`` and ``update_customer_details`` change no subscription.
ACTION_CHANGES: Mapping[str, Change] = {
    "update_subscription": EventType.SUBSCRIPTION_PLAN_CHANGED,
    "cancel_subscription": EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
    "update_payment_method": EventType.PAYMENT_METHOD_UPDATED,
}


def twin_webhooks(product: str, prices: tuple[str, ...]) -> TwinWebhooks:
    """The Stripe twin's ``TwinWebhooks``: subscriptions on ``prices`` (of ``product``), the
    first a new subscription's."""
    return TwinWebhooks(
        secret=WEBHOOK_SECRET,
        env={"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET},
        sign=sign,
        events=events_builder(product, prices),
        changes=CHANGES,
        action_changes=ACTION_CHANGES,
        plans=prices,
        payment_method_id=payment_method_id,
    )
