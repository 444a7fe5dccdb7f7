"""Paylera's sandbox twin: ``POST /v1/portal/sessions`` as its Customer portal page documents
it (/work/shared/provider-docs/paylera-customer-portal.txt), and its hosted portal.
Restated from the docs: it imports nothing from the adapter.

Checks, in order: the bearer key (401 ``authentication_error`` / ``invalid_api_key``), its
permission (403 ``permission_error`` / ``insufficient_permissions``), the body (400
``invalid_request_error``: ``parameter_missing`` / ``parameter_invalid`` /
``parameter_unknown``; only ``customer_id``, ``return_url``, ``locale`` and the three
``configuration`` keys), the idempotency key (409 ``idempotency_error`` /
``idempotency_key_reused``), the customer (404 ``resource_missing``). Answers 201
``{id, url, expires_at}``; a session lives 60 minutes. The URL's path is the bearer token
(``{sandbox}/paylera/p/ps_<32 random base62>``), so the id is unguessable.

Error envelope (the adapter's assumption): ``{"error": {"type", "code", "message", "param",
"request_id"}}``. The page documents none of the codes: they are sandbox choices, listed in
docs/sandbox.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
    bearer_token,
    fingerprint,
    idempotent,
    iso_seconds,
    json_object,
    return_url_problem,
    utc,
)

PATH = "/v1/portal/sessions"
TTL = 60 * 60
FIELDS = ("customer_id", "return_url", "locale", "configuration")
CONFIGURATION_KEYS = (
    "subscription_cancel_enabled",
    "subscription_update_enabled",
    "payment_method_update_enabled",
)
# Paylera only shows "cus_..." ids.
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,64}")
SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9]{1,64}")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
CREDENTIALS = {
    "valid": {"api_key": "sk_sandbox_paylera_portal"},
    "wrong": {"api_key": "sk_sandbox_paylera_wrong"},
    "no_scope": {"api_key": "sk_sandbox_paylera_readonly"},
}
# api key -> may it create portal sessions?
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    409: "idempotency_error",
    429: "rate_limit_error",
}
# The per-session configuration key -> the portal action it switches.
_SWITCHES = {
    "subscription_cancel_enabled": "cancel_subscription",
    "subscription_update_enabled": "update_subscription",
    "payment_method_update_enabled": "update_payment_method",
}


def create(call: Call) -> Reply:
    _authenticate(call)
    try:
        body = json_object(call.body)
    except ValueError as exc:
        raise Invalid(400, "invalid_json", f"The body is not a JSON object: {exc}") from None
    return idempotent(
        call,
        call.headers.get("idempotency-key"),
        fingerprint(body),
        lambda: _mint(call, body),
        lambda: error_reply(
            call,
            Invalid(
                409,
                "idempotency_key_reused",
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with.",
            ),
        ),
    )


def _authenticate(call: Call) -> None:
    key = bearer_token(call.headers)
    if not key:
        raise Invalid(401, "invalid_api_key", "No API key provided (Authorization: Bearer).")
    if key not in _KEYS:
        raise Invalid(401, "invalid_api_key", "Invalid API key provided.")
    if not _KEYS[key]:
        raise Invalid(
            403, "insufficient_permissions", "This API key may not create customer portal sessions."
        )


def _mint(call: Call, body: dict[str, Any]) -> Reply:
    customer_id, return_url, locale, configuration = _validated(body)
    if not call.store.has_customer(customer_id):
        raise Invalid(404, "resource_missing", f"No such customer: {customer_id!r}", "customer_id")
    created = float(int(call.now))  # the answer shows whole seconds
    session_id = f"ps_{base62(32)}"
    session = Session(
        vendor="paylera",
        id=session_id,
        customer_id=customer_id,
        return_url=return_url,
        configuration=configuration,
        subscription_ids=(),
        locale=locale,
        account_id=None,
        idempotency_key=call.headers.get("idempotency-key"),
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=f"{call.base_url}/paylera/p/{session_id}",
        # The path is the credential: the session id is the token.
        token=session_id,
    )
    call.store.add_session(session)
    return Reply(
        201, {"id": session.id, "url": session.url, "expires_at": iso_seconds(created + TTL)}
    )


def error_reply(call: Call, exc: Invalid) -> Reply:
    error: dict[str, Any] = {
        "type": _TYPES.get(exc.status)
        or ("api_error" if exc.status >= 500 else "invalid_request_error"),
        "code": exc.code,
        "message": exc.message,
        "request_id": call.request_id,
    }
    if exc.field:
        error["param"] = exc.field
    return Reply(exc.status, {"error": error})


def partial(call: Call) -> Reply:
    return Reply(201, {"id": f"ps_{base62(32)}"})


def _validated(
    body: dict[str, Any],
) -> tuple[str, str | None, str | None, dict[str, bool] | None]:
    for field in body:
        if field not in FIELDS:
            raise Invalid(400, "parameter_unknown", f"Received unknown parameter: {field}", field)
    customer_id = body.get("customer_id")
    if customer_id is None:
        raise Invalid(
            400, "parameter_missing", "Missing required param: customer_id.", "customer_id"
        )
    if not isinstance(customer_id, str) or not CUSTOMER_ID.fullmatch(customer_id):
        raise Invalid(400, "parameter_invalid", "customer_id must be a cus_ id.", "customer_id")
    return_url = body.get("return_url")
    if return_url is not None:
        problem = return_url_problem(return_url)
        if problem:
            raise Invalid(400, "parameter_invalid", f"return_url {problem}.", "return_url")
    locale = body.get("locale")
    if locale is not None and (not isinstance(locale, str) or not _LOCALE.fullmatch(locale)):
        raise Invalid(
            400, "parameter_invalid", "locale must be a language tag such as 'fr'.", "locale"
        )
    return customer_id, return_url, locale, _configuration(body.get("configuration"))


def _configuration(value: object) -> dict[str, bool] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(400, "parameter_invalid", "configuration must be an object.", "configuration")
    for key, enabled in value.items():
        param = f"configuration[{key}]"
        if key not in CONFIGURATION_KEYS:
            raise Invalid(400, "parameter_unknown", f"Received unknown parameter: {param}", param)
        if not isinstance(enabled, bool):
            raise Invalid(400, "parameter_invalid", f"{param} must be a boolean.", param)
    return dict(value)


def allowed_actions(session: Session, actions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The portal's actions minus what the session's configuration switched off."""
    disabled = {
        action
        for key, action in _SWITCHES.items()
        if (session.configuration or {}).get(key) is False
    }
    return [(a, label) for a, label in actions if a not in disabled]


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /paylera/p/ps_...``: the path is the credential; the first visit opens."""
    return pages.open(request, request.path_params["session_id"])


TWIN = Twin(
    name="paylera",
    title="Paylera",
    description="Paylera: portal sessions with per-session configuration, locale and "
    "idempotency keys.",
    routes=(ApiRoute("POST", PATH, create),),
    pages=(PageRoute("GET", "/paylera/p/{session_id}", open_link),),
    credentials=CREDENTIALS,
    customers={
        "cus_sandbox0001": ("sub_sandbox0101", "sub_sandbox0102"),
        "cus_sandbox0002": ("sub_sandbox0201",),
        "cus_sandbox0003": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"cus_{base62(14)}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"sub_{base62(14)}"),
    request_id=lambda now: f"req_{base62(24)}",
    error_reply=error_reply,
    partial=partial,
    status_codes={
        400: "parameter_invalid",
        401: "invalid_api_key",
        403: "insufficient_permissions",
        404: "resource_missing",
        409: "idempotency_key_reused",
    },
    actions=(
        ("update_subscription", "Upgrade or downgrade"),
        ("cancel_subscription", "Cancel subscription"),
        ("update_payment_method", "Manage payment methods"),
        ("view_invoices", "View invoices"),
        ("update_tax_ids", "Manage tax IDs"),
        ("update_billing_address", "Update billing address"),
    ),
    allowed_actions=allowed_actions,
)
