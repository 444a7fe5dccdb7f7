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

The twin is this module's ``TWIN``; its parts, one job each, beside it:
``stripe_twin_params`` (what the endpoints take, and Stripe's 400s for what they do not),
``stripe_twin_requests`` (the key, the error envelope, idempotent POSTs),
``stripe_twin_configurations`` and ``stripe_twin_sessions`` (the endpoints),
``stripe_twin_pages`` (the hosted portal) and ``stripe_twin_webhooks`` (the events).
"""

from __future__ import annotations

# `name as name`: names this module had before its parts moved beside it, still importable
# from here (the seeded ids and the credentials, which tests use).
from portalkit.providers.stripe_twin_configurations import (
    DEFAULT_CONFIGURATION as DEFAULT_CONFIGURATION,
)
from portalkit.providers.stripe_twin_configurations import SEEDED_PRICES as SEEDED_PRICES
from portalkit.providers.stripe_twin_configurations import SEEDED_PRODUCT as SEEDED_PRODUCT
from portalkit.providers.stripe_twin_configurations import (
    create_configuration,
    list_configurations,
    retrieve_configuration,
)
from portalkit.providers.stripe_twin_pages import allowed_actions, complete_flow, open_link
from portalkit.providers.stripe_twin_params import CUSTOMER_ID, SUBSCRIPTION_ID
from portalkit.providers.stripe_twin_requests import (
    CONFIGURATIONS,
    SESSIONS,
    error_reply,
    partial,
)
from portalkit.providers.stripe_twin_requests import CREDENTIALS as CREDENTIALS
from portalkit.providers.stripe_twin_sessions import create_session
from portalkit.providers.stripe_twin_webhooks import twin_webhooks
from portalkit.sandbox.twin import ApiRoute, IdFormat, PageRoute, Twin, base62

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
