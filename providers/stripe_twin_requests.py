"""What every API route of the Stripe twin shares (providers/stripe_sandbox.py): the
paths, the sandbox's account and keys, ``authenticate`` (the key, the ``Stripe-Account``
header), Stripe's error envelope (``error_reply``), ``Request-Id`` on every answer
(``answer``), and ``post``: a POST's form body decoded, idempotent on ``Idempotency-Key``
as Stripe's are.
"""

from __future__ import annotations

import base64
from typing import Any

from portalkit.providers.stripe_twin_params import ACCOUNT_ID
from portalkit.sandbox.twin import (
    Call,
    Invalid,
    Reply,
    base62,
    fingerprint,
    form_object,
    idempotent,
)

SESSIONS = "/v1/billing_portal/sessions"
CONFIGURATIONS = "/v1/billing_portal/configurations"
DOCS = "https://stripe.com/docs/error-codes/"
#: "Idempotency-Key ... up to 255 characters long".
MAX_IDEMPOTENCY_KEY = 255

ACCOUNT = "acct_1PkSandboxAcct01"
CREDENTIALS = {
    "valid": {"api_key": "sk_test_PkSandboxPortalKey01"},
    "wrong": {"api_key": "sk_test_PkSandboxWrongKey001"},
    "no_scope": {"api_key": "rk_test_PkSandboxReadOnly001"},
}
# key -> may it use the billing portal? (a restricted key without its permissions: no)
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}


def _mask(key: str) -> str:
    prefix, _, rest = key.partition("_test_")
    return f"{prefix}_test_{'*' * max(len(rest) - 4, 0)}{rest[-4:]}" if rest else "***"


def authenticate(call: Call) -> None:
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


def answer(call: Call, reply: Reply) -> Reply:
    """Every answer carries ``Request-Id``, a replayed one included."""
    return Reply(reply.status, reply.payload, {**reply.headers, "Request-Id": call.request_id})


def _form(call: Call) -> dict[str, Any]:
    try:
        return form_object(call.body)
    except ValueError as exc:
        raise Invalid(400, "", f"Invalid request body: {exc}") from None


def post(call: Call, mint: Any) -> Reply:
    """A POST: authenticated, its body decoded, idempotent on ``Idempotency-Key``."""
    authenticate(call)
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

    return answer(call, idempotent(call, key, print_, lambda: mint(call, body), conflict))
