"""Lemon Squeezy: the portal link is read, not minted -- a customer, then its subscriptions.

Vendor docs: Lemon Squeezy API -> Customers -> Retrieve a customer; Subscriptions -> Retrieve
a subscription; Developer guide -> Customer Portal (signed URLs, valid 24 hours); API ->
Getting started (JSON:API, bearer keys, rate limits, errors). The wire shapes follow the
official lemonsqueezy.js types (there is no official Python SDK). Notes on what the pages
leave open are in docs/providers/lemonsqueezy.md.

Wire shape (one request per resource, all GETs; the exchange below chains them)::

    GET {base_url}/v1/customers/{id}                       ids are numeric strings: "1"
    Accept: application/vnd.api+json
    Authorization: Bearer <api key>

    200 {"jsonapi": {"version": "1.0"},
         "data": {"type": "customers", "id": "1",
                  "attributes": {"urls": {"customer_portal":
                      "https://<store>.lemonsqueezy.com/billing?expires=<unix>&signature=..."}}}}
                                                           customer_portal is null until
                                                           the customer has a subscription

    GET {base_url}/v1/subscriptions/{id}                   one per subscription asked for
    200 {"data": {"type": "subscriptions", "id": "1",
                  "attributes": {"customer_id": 1,
                                 "urls": {"update_payment_method": ".../payment-details?...",
                                          "customer_portal": ".../billing?...",
                                          "customer_portal_update_subscription":
                                              ".../billing/1/update?..."}}}}

    4xx {"jsonapi": {...}, "errors": [{"status": "404", "title": "Not Found",
                                       "detail": "..."}]}

Lemon Squeezy keeps a signed link on each of these resources and signs it afresh on every
read, so "minting" is reading at click time. The exchange reads the customer (its portal
link, and ``CustomerNotFound`` / ``NoPortalYet``), then each subscription a ``Flow`` or
``subscription_ids`` names; a subscription's links are handed out only when its
``customer_id`` is the requested customer's. Every request is a GET, safe to retry, so no
idempotency key is involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import Action, DeepLink, Feature, Flow, PortalLink, PortalRequest
from portalkit._protocol import Exchange
from portalkit._wire import USER_AGENT, Reply, strip_slash, text_or_none, wire_converter
from portalkit.errors import (
    CustomerNotFound,
    InvalidRequest,
    InvalidResponse,
    NoPortalYet,
    PortalError,
    RateLimited,
    UnsupportedFeature,
)

BASE_URL = "https://api.lemonsqueezy.com"
JSON_API = "application/vnd.api+json"
#: Lemon Squeezy's ids are positive integers, sent as strings.
NUMERIC_ID = re.compile(r"[1-9]\d{0,19}")
#: Each subscription is one more request (300 a minute per key, and a customer is waiting):
#: an assumption, see docs/providers/lemonsqueezy.md.
MAX_SUBSCRIPTIONS = 10
#: The documented limit, for the RateLimited message when the 429 does not repeat it.
DOCUMENTED_RATE_LIMIT = 300
#: Not documented; read when present so a support ticket can quote it.
REQUEST_ID_HEADER = "X-Request-Id"

# The subscription links, by the portalkit action they open. customer_portal_update_subscription
# is newer than the rest (the lemonsqueezy.js types lack it): optional on the wire.
_SUBSCRIPTION_LINKS: dict[Action, str] = {
    Action.OVERVIEW: "customer_portal",
    Action.UPDATE_PAYMENT_METHOD: "update_payment_method",
    Action.UPDATE_SUBSCRIPTION: "customer_portal_update_subscription",
}


def _has_page(flow: Flow) -> bool:
    """Whether Lemon Squeezy has a page for ``flow``: the overview, or one of a
    subscription's links for that subscription."""
    if flow.subscription_id is None:
        return flow.action is Action.OVERVIEW
    return flow.action in _SUBSCRIPTION_LINKS


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _CustomerUrls:
    customer_portal: str | None


@attrs.frozen(repr=False, eq=False, slots=False)
class _CustomerAttributes:
    urls: _CustomerUrls


@attrs.frozen(repr=False, eq=False, slots=False)
class _Customer:
    id: str
    attributes: _CustomerAttributes


@attrs.frozen(repr=False, eq=False, slots=False)
class _CustomerDocument:
    data: _Customer


@attrs.frozen(repr=False, eq=False, slots=False)
class _SubscriptionUrls:
    update_payment_method: str
    customer_portal: str
    customer_portal_update_subscription: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _SubscriptionAttributes:
    customer_id: int
    urls: _SubscriptionUrls


@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    attributes: _SubscriptionAttributes


@attrs.frozen(repr=False, eq=False, slots=False)
class _SubscriptionDocument:
    data: _Subscription


@attrs.frozen(repr=False, eq=False, slots=False)
class _ErrorObject:
    """One JSON:API error object; every member is optional in the spec. Its ``status``
    repeats the HTTP status, which is what portalkit goes by."""

    code: str | None = None
    title: str | None = None
    detail: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ErrorDocument:
    errors: list[_ErrorObject] = attrs.field(factory=list)


_converter = wire_converter()


def _base_url(
    instance: LemonSqueezy, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None:
        check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


@attrs.frozen
class LemonSqueezy:
    """Lemon Squeezy adapter. ``LemonSqueezy(api_key=...)``; ``base_url`` for another host
    (a sandbox). Test-mode and live keys reach the same host: the key decides."""

    name: ClassVar[str] = "lemonsqueezy"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.SUBSCRIPTION_DEEP_LINKS, Feature.FLOW}
    )
    #: Each store's portal lives on its own subdomain (a custom domain is opt-in).
    portal_hosts: ClassVar[tuple[str, ...]] = ("*.lemonsqueezy.com",)

    api_key: str = attrs.field(repr=False, validator=check.secret)
    base_url: str | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(strip_slash),
        validator=_base_url,
    )
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> LemonSqueezy:
        """``LEMONSQUEEZY_API_KEY`` (required), ``LEMONSQUEEZY_BASE_URL`` (optional)."""
        return cls(api_key=env.require("api_key"), base_url=env.get("base_url"))

    @property
    def api_root(self) -> str:
        return self.base_url or BASE_URL

    # -- the one-request form: the customer's portal link ------------------------------

    def build_request(self, request: PortalRequest) -> httpx.Request:
        """The customer read: the first (and, without subscriptions, only) request."""
        self._check_id("customer_id", request.customer_id)
        return self._get(f"/v1/customers/{request.customer_id}")

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        """The customer's portal link from the customer read."""
        reply = _reply(response)
        body = reply.json_object()
        customer = reply.structure(_converter, body, _CustomerDocument).data
        url = customer.attributes.urls.customer_portal
        if url is None:
            raise NoPortalYet(
                f"{self.name} has no customer portal for customer {request.customer_id!r} "
                "yet: Lemon Squeezy signs a portal link only for a customer who has (or had) "
                "a subscription",
                provider=self.name,
                status=reply.status,
                request_id=reply.request_id,
            )
        return PortalLink(
            provider=self.name,
            session_id=f"customers/{customer.id}",  # no session object: the resource read
            customer_id=customer.id,
            url=url,
            expires_at=self._expires(url, reply),
            deep_links=(DeepLink(Action.OVERVIEW, None, url),),
            request_id=reply.request_id,
            raw={"customer": body, "subscriptions": {}},
        )

    def accepts(self, feature: Feature, request: PortalRequest) -> bool:
        """A flow Lemon Squeezy has no page for (cancel, invoices, a subscription's page
        without the subscription) is unsupported for this request, so the feature policy
        drops it and lists ``flow`` in ``ignored_fields`` -- the customer lands on the
        portal's overview, where cancelling and the invoices are -- or refuses it under
        ``strict=True``: the rule every cosmetic feature follows (Chargebee's too)."""
        if feature is Feature.FLOW and request.flow is not None:
            return _has_page(request.flow)
        return True

    # -- the exchange: the customer, then each subscription ------------------------------

    def exchange(self, request: PortalRequest) -> Exchange:
        # Everything is checked before the first request is yielded.
        flow_subscription = self._check_flow(request.flow)
        subscription_ids = list(request.subscription_ids)
        for index, subscription_id in enumerate(subscription_ids):
            self._check_id(f"subscription_ids[{index}]", subscription_id)
        if flow_subscription is not None and flow_subscription not in subscription_ids:
            subscription_ids.append(flow_subscription)
        if len(subscription_ids) > MAX_SUBSCRIPTIONS:
            raise InvalidRequest.local(
                "subscription_ids",
                f"must name at most {MAX_SUBSCRIPTIONS} subscriptions (each is one more "
                "request to Lemon Squeezy)",
                provider=self.name,
            )
        first = self.build_request(request)

        link = self.parse_response((yield first), request)
        deep_links = list(link.deep_links)
        documents: dict[str, Any] = {}
        for subscription_id in subscription_ids:
            try:
                response = yield self._get(f"/v1/subscriptions/{subscription_id}")
            except CustomerNotFound as error:
                # The 404 is about the subscription: the customer was just read.
                raise InvalidRequest(
                    f"{self.name} has no subscription {subscription_id!r} in this store",
                    field=self._field_of(subscription_id, request),
                    rule="must be a subscription of this store",
                    provider=self.name,
                    status=error.status,
                    code=error.code,
                    vendor_message=error.vendor_message,
                    request_id=error.request_id,
                ) from error
            subscription, body = self._read_subscription(response)
            if str(subscription.attributes.customer_id) != link.customer_id:
                # Never hand out another customer's links; name neither the owner nor a URL.
                raise InvalidRequest(
                    f"{self.name} subscription {subscription_id!r} does not belong to "
                    f"customer {request.customer_id!r}; refused",
                    field=self._field_of(subscription_id, request),
                    rule="must be a subscription of customer_id",
                    provider=self.name,
                    request_id=_request_id(response),
                )
            documents[subscription_id] = body
            urls = subscription.attributes.urls
            for action, key in _SUBSCRIPTION_LINKS.items():
                url = getattr(urls, key)
                if url is not None:
                    deep_links.append(DeepLink(action, subscription_id, url))
            link = attrs.evolve(link, request_id=_request_id(response))
        link = attrs.evolve(
            link,
            deep_links=tuple(deep_links),
            raw={"customer": link.raw["customer"], "subscriptions": documents},
        )
        if request.flow is None or flow_subscription is None:
            return link
        return self._open_flow(link, request.flow, flow_subscription)

    def _open_flow(self, link: PortalLink, flow: Flow, subscription_id: str) -> PortalLink:
        """The link opened at the flow: its url is that subscription's deep link."""
        for deep_link in link.deep_links:
            if deep_link.action is flow.action and deep_link.subscription_id == subscription_id:
                return attrs.evolve(
                    link,
                    session_id=f"subscriptions/{subscription_id}",
                    url=deep_link.url,
                    expires_at=self._expires(deep_link.url, None),
                )
        raise InvalidResponse(
            f"{self.name} sent no {flow.action.value!r} link for subscription {subscription_id!r}",
            provider=self.name,
            request_id=link.request_id,
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = _reply(response)
        if _is_error_document(reply.error_json()):
            errors = reply.error_body(_converter, _ErrorDocument).errors
            first = errors[0] if errors else _ErrorObject()
            error = reply.error(
                code=first.code, message="; ".join(filter(None, (first.title, first.detail)))
            )
        else:  # a proxy's page, another server's answer: no verdict of Lemon Squeezy's
            error = reply.unexpected_endpoint()
        if isinstance(error, RateLimited):
            error.message = f"{error.message} (limit: {_rate_limit(response)} calls a minute)"
            error.args = (error.message,)
        return error

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, path: str) -> httpx.Request:
        headers = {
            "Accept": JSON_API,
            "Content-Type": JSON_API,  # the docs ask for it on every request, GETs included
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {self.api_key}",
        }
        return httpx.Request("GET", f"{self.api_root}{path}", headers=headers)

    def _check_id(self, field: str, value: str) -> None:
        # Validated before it goes into the path.
        check.require_pattern(field, value, NUMERIC_ID, "a numeric id such as '1'", self.name)

    def _check_flow(self, flow: Flow | None) -> str | None:
        """The subscription a flow needs read; refuse flows Lemon Squeezy cannot open (through
        ``Portal`` they never get here: ``accepts`` has the policy drop them first)."""
        if flow is None or (flow.action is Action.OVERVIEW and flow.subscription_id is None):
            return None
        if flow.subscription_id is not None and _has_page(flow):
            self._check_id("flow.subscription_id", flow.subscription_id)
            return flow.subscription_id
        target = (
            f"for {flow.subscription_id!r}" if flow.subscription_id else "without a subscription"
        )
        raise UnsupportedFeature(
            f"flow: lemonsqueezy can open {', '.join(a.value for a in _SUBSCRIPTION_LINKS)} for "
            f"a subscription, or the overview, not {flow.action.value!r} {target}",
            feature="flow",
            field="flow",
            rule="unsupported flow for lemonsqueezy",
            provider=self.name,
        )

    @staticmethod
    def _field_of(subscription_id: str, request: PortalRequest) -> str:
        if subscription_id in request.subscription_ids:
            return f"subscription_ids[{request.subscription_ids.index(subscription_id)}]"
        return "flow.subscription_id"

    def _read_subscription(self, response: httpx.Response) -> tuple[_Subscription, dict[str, Any]]:
        reply = _reply(response)
        body = reply.json_object()
        return reply.structure(_converter, body, _SubscriptionDocument).data, body

    def _expires(self, url: str, reply: Reply | None) -> datetime | None:
        """When a signed link stops working: its ``expires`` parameter (unix seconds).
        None when the link carries none (never invented); a malformed one is refused."""
        try:
            value = _query_value(urlsplit(url).query, "expires")
        except ValueError:
            value = None
        if value is None:
            return None
        if not value.isdigit() or len(value) > 12:
            what = "a portal link whose expires parameter is not unix seconds"
            if reply is not None:
                raise reply.invalid(what)
            raise InvalidResponse(f"{self.name} sent {what}", provider=self.name)
        return datetime.fromtimestamp(int(value), UTC)


def _query_value(query: str, name: str) -> str | None:
    """``dict(parse_qsl(query)).get(name)``: the last non-empty value of ``name``. A signed
    link's query holds nothing encoded, so it is split here as parse_qsl splits it, without
    decoding every pair (parse_qsl costs about 2 µs a link); an encoded one goes to
    parse_qsl itself."""
    if "%" in query or "+" in query:
        return dict(parse_qsl(query)).get(name)
    found = None
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name and value:  # parse_qsl drops a pair with no value
            found = value
    return found


def _is_error_document(body: Mapping[str, Any]) -> bool:
    """A JSON:API error document, Lemon Squeezy's own error answer: an ``errors`` list whose
    first object says something (``status``, ``title``, ``detail`` or ``code``). A proxy's
    page or another server's JSON is not."""
    errors = body.get("errors")
    if not (isinstance(errors, list) and errors and isinstance(errors[0], dict)):
        return False
    return any(text_or_none(errors[0].get(name)) for name in ("status", "title", "detail", "code"))


def _reply(response: httpx.Response) -> Reply:
    return Reply.of(response, LemonSqueezy.name, request_id=_request_id(response))


def _request_id(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get(REQUEST_ID_HEADER)
    return value or None


def _rate_limit(response: httpx.Response) -> int:
    """The per-minute limit the 429 names (``X-Ratelimit-Limit``), else the documented one."""
    value = response.headers.get("X-Ratelimit-Limit", "")
    return int(value) if value.isdigit() and len(value) < 7 else DOCUMENTED_RATE_LIMIT
