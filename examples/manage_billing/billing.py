"""Where the example's billing comes from: the sandbox (the default) or a real vendor.

The demo user is signed in by construction. A real app reads its session and looks the
user's billing customer up in its own tables; this one has a single user whose customer at
each vendor is a sandbox seed, or ``PORTALKIT_EXAMPLE_CUSTOMER_ID`` at a real vendor.

Each account also says how the vendor's webhooks are verified (``BillingAccount.webhooks``):
on the sandbox, with the twin's own secret (``Sandbox.webhook_env``), the sandbox being told
to send them to the app's ``/hooks/<vendor>``; at a real vendor, with the vendor's webhook
variables (``PADDLE_WEBHOOK_SECRET``, ...) when they are set, and not at all otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from portalkit import (
    Portal,
    PortalProvider,
    PortalRequest,
    Webhooks,
    available_twins,
    available_webhook_providers,
    errors,
    get_vendor_webhooks,
)

if TYPE_CHECKING:  # the sandbox is imported only when the example runs on it
    from portalkit.sandbox import Sandbox

#: The vendors the sandbox emulates (its registered twins), in the order the page offers them.
SANDBOX_VENDORS = tuple(available_twins())
PROVIDER_VARIABLE = "PORTALKIT_PROVIDER"
CUSTOMER_VARIABLE = "PORTALKIT_EXAMPLE_CUSTOMER_ID"
SUBSCRIPTIONS_VARIABLE = "PORTALKIT_EXAMPLE_SUBSCRIPTION_IDS"
#: Where the app receives each vendor's webhooks: ``/hooks/paddle``, ...
HOOKS_PATH = "/hooks/"


@attrs.frozen
class BillingAccount:
    """The demo user's customer at one vendor, and the Portal that mints its links."""

    vendor: str
    label: str
    portal: Portal
    customer_id: str
    subscription_ids: tuple[str, ...] = ()
    #: How the vendor's webhooks are verified; None: the app receives none from it.
    webhooks: Webhooks | None = None


class SetupError(Exception):
    """The environment asks for something the example cannot do; the message says what."""


def live_vendor(environ: Mapping[str, str]) -> str | None:
    """The vendor to use for real, or None for the sandbox.

    Real when ``PORTALKIT_PROVIDER`` names a vendor and one of that vendor's own variables
    (``PADDLE_API_KEY``, ``PLUGIPAY_KEY_ID``, ...) is set: credentials in the environment.
    """
    name = environ.get(PROVIDER_VARIABLE, "").strip().lower()
    if not name:
        return None
    prefix = name.upper().replace("-", "_") + "_"
    if any(key.startswith(prefix) and value.strip() for key, value in environ.items()):
        return name
    return None


def chosen_vendor(environ: Mapping[str, str], offered: tuple[str, ...]) -> str:
    """The vendor the page opens on: ``PORTALKIT_PROVIDER`` when it names one, else the first."""
    name = environ.get(PROVIDER_VARIABLE, "").strip().lower()
    if name and name not in offered:
        raise SetupError(f"{PROVIDER_VARIABLE} must be one of: {', '.join(offered)}")
    return name or offered[0]


def sandbox_accounts(sandbox: Sandbox, public_url: str | None = None) -> dict[str, BillingAccount]:
    """The demo user at each sandbox vendor: its first seeded customer and subscriptions.

    With ``public_url`` (where the app is reached), the sandbox is told to send each vendor's
    webhooks to ``<public_url>/hooks/<vendor>``, and each account verifies them with the
    twin's secret; without it, the accounts receive no webhooks."""
    accounts = {}
    for vendor in SANDBOX_VENDORS:
        customer_id = sandbox.customers(vendor)[0]
        webhooks = None
        if public_url is not None and sandbox.twin(vendor).webhooks is not None:
            webhooks = Webhooks.from_env(sandbox.webhook_env(vendor))
            sandbox.add_webhook_endpoint(vendor, hooks_url(public_url, vendor))
        accounts[vendor] = BillingAccount(
            vendor=vendor,
            label=f"{sandbox.twin(vendor).title} (sandbox)",
            portal=Portal(sandbox.provider(vendor)),
            customer_id=customer_id,
            subscription_ids=tuple(sandbox.subscriptions(vendor, customer_id)),
            webhooks=webhooks,
        )
    return accounts


def hooks_url(public_url: str, vendor: str) -> str:
    """Where the vendor is to send its webhooks: ``<public_url>/hooks/<vendor>``."""
    return f"{public_url.rstrip('/')}{HOOKS_PATH}{vendor}"


def webhook_variables(vendor: str) -> tuple[str, ...]:
    """The variables that configure the vendor's webhooks (``PADDLE_WEBHOOK_SECRET``;
    Chargebee's user name and password); none where portalkit reads no webhooks of it."""
    if vendor not in available_webhook_providers():
        return ()
    prefix = vendor.upper().replace("-", "_")
    return tuple(
        f"{prefix}_{field.upper()}" for field in get_vendor_webhooks(vendor).signature.fields
    )


def live_webhooks(vendor: str, environ: Mapping[str, str]) -> Webhooks | None:
    """The real vendor's webhooks, when any of its webhook variables is set (a missing or
    malformed one is then a ``ConfigurationError`` naming it); None otherwise."""
    names = webhook_variables(vendor)
    if not any(environ.get(name, "").strip() for name in names):
        return None
    return Webhooks.from_env(environ, provider=vendor)


def live_account(vendor: str, environ: Mapping[str, str] = os.environ) -> BillingAccount:
    """The demo user at a real vendor, configured from the environment."""
    customer_id = environ.get(CUSTOMER_VARIABLE, "").strip()
    if not customer_id:
        raise SetupError(
            f"{CUSTOMER_VARIABLE} is not set: with real {vendor} credentials the example"
            " needs the id of a customer in that account to open the portal for"
        )
    subscription_ids = subscriptions_from(environ)
    portal = Portal.from_env(environ)
    try:
        check_ids(portal.provider, customer_id, subscription_ids)
        webhooks = live_webhooks(vendor, environ)
    except BaseException:
        portal.close()
        raise
    return BillingAccount(
        vendor=vendor,
        label=vendor.capitalize(),
        portal=portal,
        customer_id=customer_id,
        subscription_ids=subscription_ids,
        webhooks=webhooks,
    )


def subscriptions_from(environ: Mapping[str, str]) -> tuple[str, ...]:
    """``PORTALKIT_EXAMPLE_SUBSCRIPTION_IDS``: comma-separated ids, each once."""
    value = environ.get(SUBSCRIPTIONS_VARIABLE, "")
    ids = tuple(s.strip() for s in value.split(",") if s.strip())
    if len(set(ids)) != len(ids):
        raise SetupError(f"{SUBSCRIPTIONS_VARIABLE} must not name a subscription twice")
    return ids


def check_ids(provider: object, customer_id: str, subscription_ids: tuple[str, ...]) -> None:
    """Refuse, before the app starts, ids that every click would have refused: portalkit's
    rules for any id, then the vendor's own (its adapter builds the request, sending
    nothing). The error names the variable and the rule, never the id."""
    try:
        request = PortalRequest(
            customer_id,
            subscription_ids=list(subscription_ids),
            # What Portal adds to each request, so the adapter gets as far as the ids.
            idempotency_key="portalkit-example-setup-check",
        )
        if isinstance(provider, PortalProvider):
            provider.build_request(request)
    except errors.InvalidRequest as exc:
        variable = _variable_of(exc.field)
        if variable is not None:
            raise SetupError(f"{variable} {exc.rule or 'is refused'}") from None
        # Another field: one the app fills in on each click (the return URL), not an id.


def _variable_of(field: str | None) -> str | None:
    if field == "customer_id":
        return CUSTOMER_VARIABLE
    if field is not None and field.startswith("subscription_ids"):
        return SUBSCRIPTIONS_VARIABLE
    return None
