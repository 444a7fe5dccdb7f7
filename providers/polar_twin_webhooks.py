"""Polar's webhooks as the sandbox twin (``polar_sandbox``) sends them: restated from Polar's
docs and server, never from portalkit's receiver (``polar_webhooks``) nor
``portalkit._signatures`` -- the official ``polar-sdk`` verifying and loading the twin's
deliveries is the proof (tests/test_polar_twin_webhooks.py).

Sources: docs.polar.sh "Handle & monitor webhook deliveries" (integrate/webhooks/delivery) and
"Webhook Events" (integrate/webhooks/events); the Standard Webhooks specification; Polar's
server (``server/polar/webhook/tasks.py``: the headers and the signature;
``server/polar/subscription/service.py``, ``_after_subscription_updated``: which events a
change sends, and in which order); polar-sdk's typed payloads
(``polar/v2027_01/webhooks.py``, ``outputs.Subscription``) for every field of ``data``.

Wire shape::

    POST <endpoint>
    webhook-id: <uuid>                   the event's id (Polar's WebhookEvent): same on retries
    webhook-timestamp: 1767225600        Unix seconds, set anew on each attempt
    webhook-signature: v1,<base64>       HMAC-SHA256 over "{id}.{timestamp}.{raw body}"
    webhook-api-version: 2027-01
    {"type": "subscription.canceled", "timestamp": "2026-05-12T10:42:00.123456Z",
     "api_version": "2027-01", "data": {<the Subscription as it is now>}}

The key is the secret's own UTF-8 bytes: Polar's secrets are not base64 (its server hands
Standard Webhooks the secret base64-encoded, which the library decodes again; polar-sdk's
``_signing_keys`` tries the raw bytes first).

What a change sends (the server sends ``subscription.updated`` first, then the specific one):

- cancel at period end (the portal's cancel): ``subscription.updated``, ``subscription.canceled``
  (still ``active``, ``cancel_at_period_end`` true, ``ends_at`` the period's end);
- withdrawn: ``subscription.updated``, ``subscription.uncanceled``;
- it ends: ``subscription.updated``, ``subscription.canceled``, ``subscription.revoked``
  (status ``canceled``, ``ended_at``). After a scheduled cancellation Polar's cycle keeps
  ``cancel_at_period_end`` true and re-sends ``subscription.canceled`` on revocation
  (``became_revoked and previous_is_canceled``);
- a plan change (the portal's "Change plan"), any other update: ``subscription.updated``.

A payment method update sends no subscription event that is documented (Polar has no
``payment_method.*`` webhook): the twin sends none for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from portalkit.sandbox.twin import Change, SubscriptionState, TwinWebhooks, utc

#: The payloads' API version (polar-sdk's newest, ``polar.v2027_01``).
API_VERSION = "2027-01"
#: The endpoint's secret, in Polar's format (``polar_whs_`` and 43 characters).
WEBHOOK_SECRET = "polar_whs_PortalkitSandboxWebhookSecret7Kd9QfX2mLpVNx"  # noqa: S105 -- a fixed sandbox secret
#: When the sandbox's catalog was created (a fixed moment).
CATALOG_CREATED = "2026-01-02T10:00:00.000000Z"

SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
SUBSCRIPTION_UNCANCELED = "subscription.uncanceled"
SUBSCRIPTION_REVOKED = "subscription.revoked"

#: The Polar customer object (``CustomerIndividual``) of a customer id: the twin's own.
CustomerObject = Callable[[str], Mapping[str, Any]]


@attrs.frozen
class Plan:
    """A recurring product with one fixed monthly price (Polar's ``Product``, abridged)."""

    product_id: str
    price_id: str
    name: str
    amount: int  # cents


PLANS = (
    Plan(
        "3f6c1a2e-8d4b-4c7a-9e15-2b7d0c4e6a01",
        "8a2e4c6f-1b3d-4f5a-8c7e-9d0b1a2c3e01",
        "Pro (monthly)",
        2000,
    ),
    Plan(
        "3f6c1a2e-8d4b-4c7a-9e15-2b7d0c4e6a02",
        "8a2e4c6f-1b3d-4f5a-8c7e-9d0b1a2c3e02",
        "Team (monthly)",
        5000,
    ),
)
_PLANS = {plan.product_id: plan for plan in PLANS}

#: The events Polar sends for each change, in order.
EVENTS: Mapping[Change, tuple[str, ...]] = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: (SUBSCRIPTION_UPDATED, SUBSCRIPTION_CANCELED),
    Change.SUBSCRIPTION_UNCANCELED: (SUBSCRIPTION_UPDATED, SUBSCRIPTION_UNCANCELED),
    Change.SUBSCRIPTION_CANCELED: (
        SUBSCRIPTION_UPDATED,
        SUBSCRIPTION_CANCELED,
        SUBSCRIPTION_REVOKED,
    ),
    Change.SUBSCRIPTION_PLAN_CHANGED: (SUBSCRIPTION_UPDATED,),
    Change.SUBSCRIPTION_UPDATED: (SUBSCRIPTION_UPDATED,),
}


def _iso(seconds: float) -> str:
    """Polar's timestamps: microseconds, UTC, ``Z``."""
    return utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_webhook(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """Standard Webhooks headers as Polar's server sends them: HMAC-SHA256 keyed with the
    secret's UTF-8 bytes over ``"{webhook-id}.{webhook-timestamp}.{raw body}"``, base64."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode('ascii')}",
        "webhook-api-version": API_VERSION,
    }


def delivery_id(now: float) -> str:
    """Polar's ``webhook-id``: the id (a UUID) of its webhook event, kept across retries."""
    return str(uuid.uuid4())


def events_builder(
    customer: CustomerObject,
) -> Callable[[Change, SubscriptionState, SubscriptionState, float], list[dict[str, Any]]]:
    """The twin's ``EventBuilder``, rendering each subscription's customer with ``customer``."""

    def events(
        change: Change, before: SubscriptionState, after: SubscriptionState, now: float
    ) -> list[dict[str, Any]]:
        data = subscription_object(after, customer(after.customer_id))
        return [
            {"type": type_, "timestamp": _iso(now), "api_version": API_VERSION, "data": data}
            for type_ in EVENTS.get(change, (SUBSCRIPTION_UPDATED,))
        ]

    return events


def subscription_object(state: SubscriptionState, customer: Mapping[str, Any]) -> dict[str, Any]:
    """Polar's ``Subscription`` (every field polar-sdk's model requires), as it is now."""
    plan = _PLANS.get(state.plan) or PLANS[0]
    ended = state.status == "canceled"
    if state.cancel_at_period_end:
        ends_at: float | None = state.current_period_end
    else:
        ends_at = state.ended_at if ended else None
    product = _product(plan, str(customer["organization_id"]))
    return {
        "created_at": _iso(state.created_at),
        "modified_at": _iso(state.updated_at),
        "id": state.id,
        "amount": plan.amount,
        "currency": "usd",
        "recurring_interval": "month",
        "recurring_interval_count": 1,
        "status": state.status,
        "current_period_start": _iso(state.current_period_start),
        "current_period_end": _iso(state.current_period_end),
        "current_meter_period_start": None,
        "current_meter_period_end": None,
        "trial_start": None,
        "trial_end": None,
        "cancel_at_period_end": state.cancel_at_period_end,
        "canceled_at": None if state.canceled_at is None else _iso(state.canceled_at),
        "started_at": _iso(state.created_at),
        "ends_at": None if ends_at is None else _iso(ends_at),
        "ended_at": None if state.ended_at is None else _iso(state.ended_at),
        "past_due_at": None,
        "pause_at_period_end": False,
        "paused_at": None,
        "resumes_at": None,
        "customer_id": state.customer_id,
        "product_id": plan.product_id,
        "discount_id": None,
        "checkout_id": None,
        "seats": None,
        "units": None,
        "customer_cancellation_reason": None,
        "customer_cancellation_comment": None,
        "metadata": {},
        "custom_field_data": {},
        "customer": dict(customer),
        "product": product,
        "discount": None,
        "prices": product["prices"],
        "meters": [],
        "pending_update": None,
    }


def _product(plan: Plan, organization_id: str) -> dict[str, Any]:
    price = {
        "created_at": CATALOG_CREATED,
        "modified_at": None,
        "id": plan.price_id,
        "source": "catalog",
        "amount_type": "fixed",
        "price_currency": "usd",
        "tax_behavior": None,
        "is_archived": False,
        "product_id": plan.product_id,
        "price_amount": plan.amount,
    }
    return {
        "id": plan.product_id,
        "created_at": CATALOG_CREATED,
        "modified_at": None,
        "trial_interval": None,
        "trial_interval_count": None,
        "name": plan.name,
        "description": None,
        "visibility": "public",
        "recurring_interval": "month",
        "recurring_interval_count": 1,
        "meter_interval": None,
        "meter_interval_count": None,
        "is_recurring": True,
        "is_archived": False,
        "organization_id": organization_id,
        "metadata": {},
        "is_deletable": False,
        "prices": [price],
        "benefits": [],
        "medias": [],
        "attached_custom_fields": [],
    }


def twin_webhooks(customer: CustomerObject) -> TwinWebhooks:
    """Polar's ``TwinWebhooks`` for the twin whose customers ``customer`` renders."""
    return TwinWebhooks(
        secret=WEBHOOK_SECRET,
        env={"POLAR_WEBHOOK_SECRET": WEBHOOK_SECRET},
        sign=sign_webhook,
        events=events_builder(customer),
        changes=frozenset(EVENTS),
        # The portal cancels at the end of the period and changes plans; its payment
        # methods page sends no documented subscription event.
        action_changes={
            "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
            "update_subscription": Change.SUBSCRIPTION_PLAN_CHANGED,
        },
        plans=tuple(plan.product_id for plan in PLANS),
        payment_method_id=lambda now: str(uuid.uuid4()),
        delivery_id=delivery_id,
    )
