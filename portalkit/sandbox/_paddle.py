"""Paddle's ``POST /customers/{customer_id}/portal-sessions``, as its API reference documents it.

Checks, in order: the bearer key (401 ``authentication_missing`` /
``authentication_malformed`` / ``invalid_token``), its permission (403 ``forbidden``), the
customer in the path (404 ``not_found``, also for an id that does not match
``^ctm_[a-z\\d]{26}$``), the body (400 ``invalid_field`` with one ``errors`` entry per
problem: unknown fields, ``subscription_ids`` not a list of unique ``sub_`` ids, more than
25, or a subscription of another customer). Answers 201 with ``data`` and
``meta.request_id``. No idempotency key, no return URL, no expiry in the answer.

URLs: ``{sandbox}/paddle/cpl_<id>?action=overview&token=pga_<token>``, and per subscription
``action=cancel_subscription`` / ``action=update_subscription_payment_method`` with
``subscription_id``. All links of one session share its token, as in Paddle's example.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

from ..providers.paddle import MAX_SUBSCRIPTIONS
from . import _ids as ids
from ._api import Call, Invalid, Reply, bearer_token, generic_code, iso_seconds, json_object
from ._seeds import CREDENTIALS
from ._store import Session, Store, utc

#: Paddle reports no expiry; the sandbox still expires its tokens, after this long.
TTL = 15 * 60
SUBSCRIPTION_LINKS = ("cancel_subscription", "update_subscription_payment_method")
DOCS = "https://developer.paddle.com/errors/shared/"
# api key -> may it write customer portal sessions (customer_portal_session.write)?
_KEYS = {
    CREDENTIALS["paddle"]["valid"]["api_key"]: True,
    CREDENTIALS["paddle"]["no_scope"]["api_key"]: False,
}
#: Live Paddle documents 403 for invalid_token and authentication_missing; the portalkit
#: sandbox answers 401 for a wrong or missing key (the project's rule for every vendor).
WRONG_KEY_STATUS = 401
_STATUS_CODES = {
    400: "invalid_field",
    401: "invalid_token",
    429: "too_many_requests",
}


class PaddleApi:
    name: ClassVar[str] = "paddle"
    path: ClassVar[str] = "/customers/{customer_id}/portal-sessions"

    def request_id(self, now: float) -> str:
        return ids.paddle_request_id(now)

    def create(self, call: Call, store: Store) -> Reply:
        try:
            self._authenticate(call)
            customer_id = call.path_params["customer_id"]
            if not ids.CUSTOMER_PATTERNS[self.name].fullmatch(
                customer_id
            ) or not store.has_customer(self.name, customer_id):
                raise Invalid(404, "not_found", f"Customer {customer_id} not found.")
            try:
                body = json_object(call.body)
            except ValueError:
                raise Invalid(
                    400, "bad_request", "Invalid request: the body is not a JSON object."
                ) from None
            subscription_ids = _subscription_ids(body, store.subscriptions(self.name, customer_id))
            return self._mint(call, store, customer_id, subscription_ids)
        except Invalid as exc:
            return self._reply(call, exc)

    def error(self, call: Call, status: int, message: str | None = None) -> Reply:
        code = generic_code(status, _STATUS_CODES)
        return self._reply(call, Invalid(status, code, message or f"Sandbox fault: HTTP {status}"))

    def partial(self, call: Call) -> Reply:
        return Reply(
            201,
            {"data": {"id": f"cpls_{ids.ulid(call.now).lower()}"}, "meta": self._meta(call)},
        )

    def _authenticate(self, call: Call) -> None:
        key = bearer_token(call.headers)
        if key is None:
            raise Invalid(
                WRONG_KEY_STATUS, "authentication_missing", "Authentication header missing."
            )
        if not key:
            raise Invalid(
                WRONG_KEY_STATUS,
                "authentication_malformed",
                "Authentication header included, but incorrectly formatted.",
            )
        if key not in _KEYS:
            raise Invalid(WRONG_KEY_STATUS, "invalid_token", "Invalid or revoked API key.")
        if not _KEYS[key]:
            raise Invalid(403, "forbidden", "You aren't permitted to perform this request.")

    def _mint(
        self, call: Call, store: Store, customer_id: str, subscription_ids: list[str]
    ) -> Reply:
        created = float(int(call.now))  # the answer shows whole seconds
        session_id = f"cpls_{ids.ulid(call.now).lower()}"
        link_id = f"cpl_{ids.ulid(call.now).lower()}"
        token = f"pga_{ids.token()}"
        root = f"{call.base_url}/paddle/{link_id}"

        def link(**query: str) -> str:
            return f"{root}?{urlencode({**query, 'token': token})}"

        session = Session(
            vendor=self.name,
            id=session_id,
            customer_id=customer_id,
            return_url=None,
            configuration=None,
            subscription_ids=tuple(subscription_ids),
            locale=None,
            account_id=None,
            idempotency_key=None,
            created_at=utc(created),
            expires_at=utc(created + TTL),
            used=False,
            url=link(action="overview"),
            token=token,
            link_id=link_id,
        )
        store.add_session(session)
        subscriptions = [
            {
                "id": sub,
                **{
                    action: link(action=action, subscription_id=sub)
                    for action in SUBSCRIPTION_LINKS
                },
            }
            for sub in subscription_ids
        ]
        data = {
            "id": session_id,
            "customer_id": customer_id,
            "urls": {"general": {"overview": session.url}, "subscriptions": subscriptions},
            "created_at": iso_seconds(created),
        }
        return Reply(201, {"data": data, "meta": self._meta(call)})

    def _meta(self, call: Call) -> dict[str, str]:
        return {"request_id": call.request_id}

    def _reply(self, call: Call, exc: Invalid) -> Reply:
        error: dict[str, Any] = {
            "type": "api_error" if exc.status >= 500 else "request_error",
            "code": exc.code,
            "detail": exc.message,
            "documentation_url": DOCS + exc.code,
        }
        if exc.details:
            error["errors"] = [{"field": f, "message": m} for f, m in exc.details]
        return Reply(exc.status, {"error": error, "meta": self._meta(call)})


def _subscription_ids(body: dict[str, Any], owned: list[str]) -> list[str]:
    """The validated ``subscription_ids``; every problem is reported at once."""
    problems = [(field, "unknown field") for field in body if field != "subscription_ids"]
    value = body.get("subscription_ids", [])
    if not isinstance(value, list):
        problems.append(("subscription_ids", "must be an array"))
        value = []
    if len(value) > MAX_SUBSCRIPTIONS:
        problems.append(("subscription_ids", f"maximum of {MAX_SUBSCRIPTIONS} items exceeded"))
    seen: set[str] = set()
    for index, item in enumerate(value):
        field = f"subscription_ids[{index}]"
        if not isinstance(item, str) or not ids.SUBSCRIPTION_PATTERNS["paddle"].fullmatch(item):
            problems.append((field, r"must match ^sub_[a-z\d]{26}$"))
        elif item in seen:
            problems.append((field, "items must be unique"))
        elif item not in owned:
            problems.append((field, f"subscription {item} does not belong to this customer"))
        if isinstance(item, str):
            seen.add(item)
    if problems:
        raise Invalid(
            400, "invalid_field", "Request does not pass validation.", details=tuple(problems)
        )
    return list(value)
