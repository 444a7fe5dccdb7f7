"""Plugipay's ``POST /v1/portal-sessions``, as its REST page documents it.

Checks, in order: the signed key (401 ``invalid_key`` / ``invalid_signature``), the portal
scope (403 ``insufficient_scope``), the body (400 ``VALIDATION_ERROR``: strict schema, only
``customerId`` and ``returnUrl``), the idempotency key (409 ``idempotency_key_reused``),
the customer (404 ``not_found``). A session lives 15 minutes; its URL carries the token in
the fragment: ``{sandbox}/plugipay/portal/ps_<ULID>#t=<token>``.

Error envelope (the adapter's assumption): ``{"error": {"code", "message", "requestId"}}``.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any, ClassVar

from ..providers.plugipay import ACCOUNT_ID, PATH, sign
from . import _ids as ids
from ._api import (
    Call,
    Invalid,
    Reply,
    fingerprint,
    generic_code,
    idempotent,
    iso_millis,
    json_object,
    return_url_problem,
)
from ._seeds import CREDENTIALS, PLUGIPAY_ACCOUNT
from ._store import Session, Store, utc

TTL = 15 * 60
#: The signature timestamp may differ from the sandbox's real clock by this much.
TIMESTAMP_TOLERANCE = 5 * 60
#: The REST page's spelling (the Python SDK page writes ``validation_error``; the REST page
#: wins, see DESIGN.md). The adapter accepts both.
VALIDATION_ERROR = "VALIDATION_ERROR"
SCOPE = "plugipay:portal:create"
FIELDS = ("customerId", "returnUrl")

# key id -> (secret, scopes). The "wrong" credentials reuse the valid key id with another
# secret, so they fail the signature check.
_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    CREDENTIALS["plugipay"]["valid"]["key_id"]: (
        CREDENTIALS["plugipay"]["valid"]["key_secret"],
        frozenset({SCOPE}),
    ),
    CREDENTIALS["plugipay"]["no_scope"]["key_id"]: (
        CREDENTIALS["plugipay"]["no_scope"]["key_secret"],
        frozenset({"plugipay:customers:read"}),
    ),
}
_STATUS_CODES = {400: VALIDATION_ERROR, 401: "invalid_key", 403: "insufficient_scope"}


class PlugipayApi:
    name: ClassVar[str] = "plugipay"
    path: ClassVar[str] = PATH

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        # Signatures are checked against the real clock, not the advanced sandbox clock, so
        # a test that calls advance() can still mint with a freshly signed request.
        self._wall_clock = wall_clock

    def request_id(self, now: float) -> str:
        return ids.plugipay_request_id(now)

    def create(self, call: Call, store: Store) -> Reply:
        try:
            self._authenticate(call)
            account = self._account(call)
            try:
                body = json_object(call.body)
            except ValueError as exc:
                raise Invalid(
                    400, VALIDATION_ERROR, f"The body is not a JSON object: {exc}"
                ) from None
            return idempotent(
                store,
                call,
                call.headers.get("idempotency-key"),
                fingerprint(body, account),
                lambda: self._mint(call, store, body, account),
                lambda: self._reply(
                    call,
                    Invalid(
                        409,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with a different request body.",
                    ),
                ),
            )
        except Invalid as exc:
            return self._reply(call, exc)

    def error(self, call: Call, status: int, message: str | None = None) -> Reply:
        code = generic_code(status, _STATUS_CODES)
        return self._reply(call, Invalid(status, code, message or f"Sandbox fault: HTTP {status}"))

    def partial(self, call: Call) -> Reply:
        return Reply(201, {"data": {"id": f"ps_{ids.ulid(call.now)}"}})

    def _authenticate(self, call: Call) -> None:
        key_id = call.headers.get("x-plugipay-key-id", "")
        if key_id not in _KEYS:
            raise Invalid(401, "invalid_key", "Unknown or missing API key id.")
        secret, scopes = _KEYS[key_id]
        timestamp = call.headers.get("x-plugipay-timestamp", "")
        if not timestamp.isdigit():
            raise Invalid(401, "invalid_signature", "Missing or malformed X-Plugipay-Timestamp.")
        if abs(self._wall_clock() - int(timestamp)) > TIMESTAMP_TOLERANCE:
            raise Invalid(
                401, "invalid_signature", "X-Plugipay-Timestamp is outside the 5-minute tolerance."
            )
        expected = sign(
            secret, timestamp=timestamp, method=call.method, path=call.path, body=call.body
        )
        if not hmac.compare_digest(expected, call.headers.get("x-plugipay-signature", "")):
            raise Invalid(401, "invalid_signature", "The request signature does not verify.")
        if SCOPE not in scopes:
            raise Invalid(403, "insufficient_scope", f"The API key lacks the {SCOPE} scope.")

    def _account(self, call: Call) -> str:
        on_behalf_of = call.headers.get("x-plugipay-on-behalf-of")
        if on_behalf_of is None:
            return PLUGIPAY_ACCOUNT
        if not ACCOUNT_ID.fullmatch(on_behalf_of):
            raise Invalid(
                400, VALIDATION_ERROR, "X-Plugipay-On-Behalf-Of must be an acc_ account id."
            )
        return on_behalf_of

    def _mint(self, call: Call, store: Store, body: dict[str, Any], account: str) -> Reply:
        for field in body:
            if field not in FIELDS:
                raise Invalid(
                    400,
                    VALIDATION_ERROR,
                    f"Unknown field {field!r}: the schema is strict (customerId, returnUrl).",
                    field=field,
                )
        customer_id = body.get("customerId")
        if customer_id is None:
            raise Invalid(400, VALIDATION_ERROR, "customerId is required.", field="customerId")
        if not isinstance(customer_id, str) or not ids.CUSTOMER_PATTERNS[self.name].fullmatch(
            customer_id
        ):
            raise Invalid(
                400, VALIDATION_ERROR, "customerId must be a cus_<ULID> id.", field="customerId"
            )
        return_url = body.get("returnUrl")
        if return_url is None:
            raise Invalid(400, VALIDATION_ERROR, "returnUrl is required.", field="returnUrl")
        problem = return_url_problem(return_url)
        if problem:
            raise Invalid(400, VALIDATION_ERROR, f"returnUrl {problem}.", field="returnUrl")
        if not store.has_customer(self.name, customer_id):
            # Plugipay does not tell "another workspace's customer" from "no such customer".
            raise Invalid(404, "not_found", f"No such customer: {customer_id}.")

        created = int(call.now * 1000) / 1000  # the answer shows milliseconds
        session_id = f"ps_{ids.ulid(created)}"
        token = ids.token()
        session = Session(
            vendor=self.name,
            id=session_id,
            customer_id=customer_id,
            return_url=str(return_url),
            configuration=None,
            subscription_ids=(),
            locale=None,
            account_id=account,
            idempotency_key=call.headers.get("idempotency-key"),
            created_at=utc(created),
            expires_at=utc(created + TTL),
            used=False,
            url=f"{call.base_url}/plugipay/portal/{session_id}#t={token}",
            token=token,
        )
        store.add_session(session)
        return Reply(
            201,
            {
                "data": {
                    "id": session.id,
                    "arn": f"arn:plugipay:{account}:portal-session/{session.id}",
                    "accountId": account,
                    "customerId": customer_id,
                    "url": session.url,
                    "returnUrl": session.return_url,
                    "expiresAt": iso_millis(created + TTL),
                    "createdAt": iso_millis(created),
                }
            },
        )

    def _reply(self, call: Call, exc: Invalid) -> Reply:
        error: dict[str, Any] = {
            "code": exc.code,
            "message": exc.message,
            "requestId": call.request_id,
        }
        if exc.field:
            error["field"] = exc.field
        return Reply(exc.status, {"error": error})
