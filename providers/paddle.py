"""Paddle Billing: ``POST /customers/{customer_id}/portal-sessions``.

Vendor docs: Paddle API reference -> Customer portal sessions -> Create a customer portal
session. Notes on what the page leaves open are in docs/providers/paddle.md.

Wire shape::

    POST {base_url}/customers/ctm_<26>/portal-sessions      the customer is in the path
    Authorization: Bearer <api key>
    {"subscription_ids": ["sub_<26>", ...]}                  optional, at most 25, unique

    201 {"data": {"id": "cpls_...", "customer_id": "ctm_...",
                  "urls": {"general": {"overview": "...&token=..."},
                           "subscriptions": [{"id": "sub_...", "cancel_subscription": "...",
                                              "update_subscription_payment_method": "..."}]},
                  "created_at": "..."},
         "meta": {"request_id": "..."}}

No return URL, no locale, no per-session configuration, no idempotency key, and no expiry
in the answer (``expires_at`` stays None). Paddle has no idempotency keys, so a retried
create may mint a second session: harmless, because a portal session grants nothing but a
fresh short-lived token. ``Flow`` maps onto Paddle's deep links: the link's ``url`` becomes
the deep link for that action and subscription.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, cast

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import Action, DeepLink, Feature, Flow, PortalLink, PortalRequest
from portalkit._wire import USER_AGENT, Reply, json_body, strip_slash, text_or_none, wire_converter
from portalkit.errors import (
    AuthenticationFailed,
    DeepLinkNotFound,
    InvalidRequest,
    InvalidResponse,
    PortalError,
    UnsupportedFeature,
)

BASE_URLS = {
    "production": "https://api.paddle.com",
    "sandbox": "https://sandbox-api.paddle.com",
}
CUSTOMER_ID = re.compile(r"ctm_[a-z\d]{26}")
SUBSCRIPTION_ID = re.compile(r"sub_[a-z\d]{26}")
# The same rules in words, for errors (Paddle: "ctm_" / "sub_" and a lowercase 26-character id).
CUSTOMER_ID_RULE = "ctm_ followed by 26 lowercase letters and digits"
SUBSCRIPTION_ID_RULE = "sub_ followed by 26 lowercase letters and digits"
#: Customer-id prefixes of other vendors that an app moving between vendors may send Paddle
#: by mistake, and whose they are: the error says so, so the fix is obvious. Kept here, with
#: Paddle: portalkit's core names no vendor.
FOREIGN_CUSTOMER_IDS = {"cus_": "Plugipay, Paylera and Stripe"}
MAX_SUBSCRIPTIONS = 25
# Paddle answers a missing or bad API key with these codes; its status for them has varied
# (401 or 403), so the code decides: these are authentication failures, not missing scopes.
_ERROR_CODES: dict[str, type[PortalError]] = {
    "authentication_missing": AuthenticationFailed,
    "authentication_malformed": AuthenticationFailed,
    "invalid_token": AuthenticationFailed,
}
# Paddle's per-subscription deep links, by the portalkit action they open.
_SUBSCRIPTION_LINKS: dict[Action, str] = {
    Action.CANCEL_SUBSCRIPTION: "cancel_subscription",
    Action.UPDATE_PAYMENT_METHOD: "update_subscription_payment_method",
}


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _General:
    overview: str


@attrs.frozen(repr=False, eq=False, slots=False)
class _SubscriptionUrls:
    id: str
    cancel_subscription: str
    update_subscription_payment_method: str


@attrs.frozen(repr=False, eq=False, slots=False)
class _Urls:
    general: _General
    subscriptions: list[_SubscriptionUrls] = attrs.field(factory=list)


@attrs.frozen(repr=False, eq=False, slots=False)
class _Session:
    id: str
    urls: _Urls
    created_at: str
    # Not required by Paddle's OpenAPI schema (customer-portal-session requires only id,
    # urls and created_at): when absent, the session is the requested customer's.
    customer_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Meta:
    request_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Envelope:
    data: _Session
    meta: _Meta = attrs.field(factory=_Meta)


@attrs.frozen(repr=False, eq=False, slots=False)
class _FieldError:
    field: str | None = None
    message: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    code: str | None = None
    detail: str | None = None
    errors: list[_FieldError] | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ErrorEnvelope:
    error: _Error = _Error()
    meta: _Meta = _Meta()


_converter = wire_converter()


def _base_url(instance: Paddle, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


def _environment(instance: Paddle, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in BASE_URLS:
        raise InvalidRequest.local(
            "environment", "must be 'production' or 'sandbox'", provider="paddle"
        )


@attrs.frozen
class Paddle:
    """Paddle Billing adapter. ``Paddle(api_key=..., environment="sandbox")``; ``base_url``
    overrides the environment's host."""

    name: ClassVar[str] = "paddle"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.SUBSCRIPTION_DEEP_LINKS, Feature.FLOW}
    )
    #: Where its portal links live. ASSUMPTION: the sandbox environment's portal is on
    #: sandbox-customer-portal.paddle.com; the docs show only the production host.
    portal_hosts: ClassVar[tuple[str, ...]] = (
        "customer-portal.paddle.com",
        "sandbox-customer-portal.paddle.com",
    )

    api_key: str = attrs.field(repr=False, validator=check.secret)
    environment: Literal["production", "sandbox"] = attrs.field(
        default="production", validator=_environment
    )
    base_url: str | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(strip_slash),
        validator=_base_url,
    )
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Paddle:
        """``PADDLE_API_KEY`` (required), ``PADDLE_ENVIRONMENT`` (``production``, the
        default, or ``sandbox``), ``PADDLE_BASE_URL`` (optional; overrides the environment's
        host)."""
        environment = env.choice("environment", BASE_URLS, default="production")
        return cls(
            api_key=env.require("api_key"),
            environment=cast(Literal["production", "sandbox"], environment),  # checked above
            base_url=env.get("base_url"),
        )

    @property
    def api_root(self) -> str:
        return self.base_url or BASE_URLS[self.environment]

    def build_request(self, request: PortalRequest) -> httpx.Request:
        # Validated before it goes into the path.
        if not CUSTOMER_ID.fullmatch(request.customer_id):
            rule = f"must match {CUSTOMER_ID_RULE}"
            for prefix, owners in FOREIGN_CUSTOMER_IDS.items():
                if request.customer_id.startswith(prefix):
                    rule += f"; {prefix}... is the customer-id format of {owners}, not Paddle's"
            raise InvalidRequest.local("customer_id", rule, provider=self.name)
        subscription_ids = list(request.subscription_ids)
        if request.flow is not None:
            flow_subscription = self._check_flow(request.flow)
            if flow_subscription and flow_subscription not in subscription_ids:
                subscription_ids.append(flow_subscription)  # its deep link opens the flow
        for index, subscription_id in enumerate(subscription_ids):
            check.require_pattern(
                f"subscription_ids[{index}]",
                subscription_id,
                SUBSCRIPTION_ID,
                SUBSCRIPTION_ID_RULE,
                self.name,
            )
        if len(subscription_ids) > MAX_SUBSCRIPTIONS:
            raise InvalidRequest.local(
                "subscription_ids", f"must hold at most {MAX_SUBSCRIPTIONS} ids", provider=self.name
            )
        payload: dict[str, Any] = {"subscription_ids": subscription_ids} if subscription_ids else {}
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {self.api_key}",
        }
        url = f"{self.api_root}/customers/{request.customer_id}/portal-sessions"
        return httpx.Request("POST", url, headers=headers, content=json_body(payload))

    def _check_flow(self, flow: Flow) -> str | None:
        """The subscription a flow needs a deep link for; refuse flows Paddle cannot open."""
        if flow.action is Action.OVERVIEW and flow.subscription_id is None:
            return None
        if flow.action in _SUBSCRIPTION_LINKS and flow.subscription_id is not None:
            # Checked here so a bad id is reported where the caller wrote it.
            check.require_pattern(
                "flow.subscription_id",
                flow.subscription_id,
                SUBSCRIPTION_ID,
                SUBSCRIPTION_ID_RULE,
                self.name,
            )
            return flow.subscription_id
        raise UnsupportedFeature(
            f"flow: paddle can open {', '.join(a.value for a in _SUBSCRIPTION_LINKS)} for a "
            f"subscription, or the overview, not {flow.action.value!r}"
            + (
                f" for {flow.subscription_id!r}"
                if flow.subscription_id
                else " without a subscription"
            ),
            feature="flow",
            field="flow",
            rule="unsupported flow for paddle",
            provider=self.name,
        )

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = Reply.of(response, self.name)
        try:
            body = reply.json_object()
            reply.request_id = _meta_request_id(body)
            envelope = reply.structure(_converter, body, _Envelope)
        except InvalidResponse as error:
            # Paddle's request id lives in the body's meta; when the body is unusable, the
            # X-Request-Id header (as parse_error reads it) still lets a support ticket quote
            # it. Read only then: a header look-up costs about 2 µs on every create.
            if error.request_id is None:
                error.request_id = response.headers.get("X-Request-Id")
            raise
        session = envelope.data
        deep_links = [DeepLink(Action.OVERVIEW, None, session.urls.general.overview)]
        for subscription in session.urls.subscriptions:
            deep_links.extend(
                DeepLink(action, subscription.id, getattr(subscription, key))
                for action, key in _SUBSCRIPTION_LINKS.items()
            )
        link = PortalLink(
            provider=self.name,
            session_id=session.id,
            customer_id=session.customer_id or request.customer_id,
            url=session.urls.general.overview,
            expires_at=None,  # Paddle does not report one; never invented
            created_at=reply.timestamp(session.created_at, "created_at"),
            return_url=None,
            deep_links=tuple(deep_links),
            request_id=reply.request_id,
            raw=body,
        )
        if request.flow is not None:
            try:
                flow_url = link.deep_link(request.flow.action, request.flow.subscription_id)
            except DeepLinkNotFound:
                raise reply.invalid(
                    f"no deep link for the flow {request.flow.action.value!r}"
                ) from None
            link = attrs.evolve(link, url=flow_url)
        return link

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = Reply.of(response, self.name)
        if not reply.has_error_object("code", "type"):  # Paddle's own answer, or another's
            header_id = response.headers.get("X-Request-Id")
            return Reply.of(response, self.name, request_id=header_id).unexpected_endpoint()
        envelope = reply.error_body(_converter, _ErrorEnvelope)
        error = envelope.error
        details = [f"{item.field}: {item.message}" for item in error.errors or ()]
        return reply.error(
            code=error.code,
            message="; ".join(filter(None, [error.detail, *details])),
            request_id=envelope.meta.request_id or response.headers.get("X-Request-Id"),
            overrides=_ERROR_CODES,
        )


def _meta_request_id(body: Mapping[str, Any]) -> str | None:
    meta = body.get("meta")
    return text_or_none(meta.get("request_id")) if isinstance(meta, dict) else None
