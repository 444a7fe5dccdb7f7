"""Stripe: ``POST /v1/billing_portal/sessions`` (the customer portal).

Vendor docs: Stripe API reference -> Customer Portal -> Sessions (create) and Configurations;
"Deep links and flows" (customer-management/portal-deep-links). The reference client is the
official ``stripe`` package: this adapter sends what its ``StripeClient`` sends for
``billing_portal.sessions.create`` (tests/test_stripe_sdk_parity.py proves it). What
portalkit decided where Stripe leaves room is in docs/providers/stripe.md.

Wire shape::

    POST {base_url}/v1/billing_portal/sessions
    Authorization: Bearer sk_test_...           as stripe-python sends it
    Idempotency-Key: <key>                       every create; the same on every retry
    Stripe-Version: 2026-10-28.endive            pinned (STRIPE_VERSION), overridable
    Stripe-Account: acct_...                     only when acting as a connected account
    Content-Type: application/x-www-form-urlencoded

    customer=cus_...&return_url=https://...&locale=fr&on_behalf_of=acct_...
    &configuration=bpc_...
    &flow_data[type]=subscription_cancel
    &flow_data[subscription_cancel][subscription]=sub_...
    &flow_data[subscription_cancel][retention][type]=coupon_offer
    &flow_data[subscription_cancel][retention][coupon_offer][coupon]=STAY20
    &flow_data[after_completion][type]=redirect
    &flow_data[after_completion][redirect][return_url]=https://...

    200 {"id": "bps_...", "object": "billing_portal.session", "customer": "cus_...",
         "url": "https://billing.stripe.com/p/session/...", "created": 1700000000,
         "return_url": "https://...", "flow": {...} | null, "configuration": "bpc_...", ...}

No expiry in the answer (``expires_at`` stays None). Errors are
``{"error": {"type", "code", "param", "message", "doc_url"}}`` with the request id in the
``Request-Id`` header, and ``Stripe-Should-Retry`` says whether a retry can help.

A per-session ``PortalConfiguration`` has no session field on Stripe: a session takes a
portal configuration (``bpc_...``). portalkit manages one, in a multi-request exchange
(``exchange``)::

    GET  /v1/billing_portal/configurations?active=true&limit=100     the default, and any
                                                                     configuration made before
    POST /v1/billing_portal/configurations      the default's features with the toggles applied
         Idempotency-Key: portalkit-bpc-<fingerprint of base id, base update time, toggles>
    POST /v1/billing_portal/sessions            configuration=bpc_<the managed one>


The adapter is this module (``Stripe``, its constants and its request and answer logic);
beside it, one job each: ``stripe_wire`` (the form body sent, the JSON shapes read back),
``stripe_locales`` (a BCP 47 tag to Stripe's closest locale) and ``stripe_configurations``
(the managed configurations: the per-process cache, the fingerprint, the create parameters).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator, Mapping
from datetime import date
from typing import Any, ClassVar

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import (
    Action,
    AfterCompletion,
    AfterCompletionKind,
    DeepLink,
    Feature,
    Flow,
    PortalLink,
    PortalRequest,
)
from portalkit._protocol import Exchange
from portalkit._wire import (
    USER_AGENT,
    Reply,
    merge_options,
    request_id_from_headers,
    strip_slash,
)
from portalkit.errors import (
    CustomerNotFound,
    IdempotencyConflict,
    InvalidRequest,
    PortalError,
    ProviderUnavailable,
    RateLimited,
    UnsupportedFeature,
)

# `name as name`: a public name of this module before its helpers moved beside it, still
# importable from here (forget_managed_configurations is documented as this module's).
from portalkit.providers.stripe_configurations import (
    FINGERPRINT_METADATA as FINGERPRINT_METADATA,
)
from portalkit.providers.stripe_configurations import (
    configuration_fingerprint,
    derived_params,
    managed_configurations,
)
from portalkit.providers.stripe_configurations import (
    forget_managed_configurations as forget_managed_configurations,
)
from portalkit.providers.stripe_locales import LOCALES as LOCALES
from portalkit.providers.stripe_locales import stripe_locale as stripe_locale
from portalkit.providers.stripe_wire import (
    Configuration,
    ConfigurationPage,
    ErrorEnvelope,
    Session,
    converter,
)
from portalkit.providers.stripe_wire import form_body as form_body

API_BASE_URL = "https://api.stripe.com"
#: The API version this adapter is written and tested against: the one stripe-python 16.1
#: pins (the 2026-09-30 spec in shared/provider-docs has every field used here).
STRIPE_VERSION = "2026-10-28.endive"
#: How Stripe names its API versions: the release date, and since 2024-09-30 the release's
#: name after a dot (``2024-06-20``, ``2026-10-28.endive``, ``2025-04-30.preview``).
API_VERSION = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})(?:\.[a-z]+)?")
API_VERSION_RULE = (
    "must be a Stripe API version: YYYY-MM-DD or YYYY-MM-DD.name (e.g. '2026-10-28.endive')"
)
SESSIONS_PATH = "/v1/billing_portal/sessions"
CONFIGURATIONS_PATH = "/v1/billing_portal/configurations"

# Stripe's ids are a prefix and letters/digits; the model already caps them at 255.
API_KEY = re.compile(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+")
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]+")
SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9]+")
SUBSCRIPTION_ITEM_ID = re.compile(r"si_[A-Za-z0-9]+")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]+")
CONFIGURATION_ID = re.compile(r"bpc_[A-Za-z0-9]+")
PROMOTION_CODE_ID = re.compile(r"promo_[A-Za-z0-9]+")
# Coupons and prices are not checked: a coupon id is chosen by the merchant ("STAY20"), and
# a legacy plan used as a price keeps its custom id.

#: "Currently, only up to one may be specified" (subscription_update_confirm.items).
MAX_CONFIRM_ITEMS = 1
#: Pages of 100 configurations read when looking for the default and a managed one.
MAX_CONFIGURATION_PAGES = 5

# Flow action -> Stripe's flow_data[type] (UPDATE_SUBSCRIPTION with items is the confirm).
_FLOW_TYPES: dict[Action, str] = {
    Action.CANCEL_SUBSCRIPTION: "subscription_cancel",
    Action.UPDATE_SUBSCRIPTION: "subscription_update",
    Action.UPDATE_PAYMENT_METHOD: "payment_method_update",
    Action.UPDATE_CUSTOMER_DETAILS: "customer_update",
}
_CONFIRM_TYPE = "subscription_update_confirm"
_PER_SUBSCRIPTION = frozenset({Action.CANCEL_SUBSCRIPTION, Action.UPDATE_SUBSCRIPTION})
_AFTER_COMPLETION_TYPES: dict[AfterCompletionKind, str] = {
    AfterCompletionKind.REDIRECT: "redirect",
    AfterCompletionKind.CONFIRMATION: "hosted_confirmation",
    AfterCompletionKind.PORTAL_HOME: "portal_homepage",
}


# -- the adapter ----------------------------------------------------------------------------


def _base_url(instance: Stripe, attribute: attrs.Attribute[str], value: str) -> None:
    check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


def api_version_problem(value: object) -> str | None:
    """Why ``value`` cannot be a ``Stripe-Version``, or None. Stripe answers an unknown
    version with a 400 on every call; a value that is no version at all is refused here,
    before anything is sent."""
    match = API_VERSION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return API_VERSION_RULE
    try:
        date.fromisoformat(match["date"])
    except ValueError:
        return f"{API_VERSION_RULE}, with a real date"
    return None


def _api_key(instance: Stripe, attribute: attrs.Attribute[str], value: str) -> None:
    if not API_KEY.fullmatch(value):
        # Never the key itself: it may be a live secret pasted into the wrong place.
        raise InvalidRequest.local(
            "api_key",
            "must be a Stripe secret or restricted key (sk_live_, sk_test_, rk_live_,"
            " rk_test_ followed by letters and digits)",
            provider="stripe",
        )


@attrs.frozen
class Stripe:
    """Stripe adapter. ``Stripe(api_key="sk_test_...")``.

    - ``stripe_version``: the ``Stripe-Version`` header (default ``STRIPE_VERSION``).
    - ``stripe_account``: ``acct_...`` to act *as* a connected account (Connect's
      ``Stripe-Account`` header: the customer lives on that account). Not the same as the
      request's ``on_behalf_of``, a body field for a customer of the platform whose
      subscriptions settle to that account. Per request:
      ``provider_options={"stripe": {"stripe_account": "acct_..."}}``.
    - ``configuration``: a ``bpc_...`` portal configuration for every session (per request:
      ``provider_options={"stripe": {"configuration": "bpc_..."}}``). With a request's
      ``PortalConfiguration`` toggles, it is the base the toggles are applied to.
    """

    name: ClassVar[str] = "stripe"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {
            Feature.RETURN_URL,
            Feature.LOCALE,
            Feature.FLOW,
            Feature.FLOW_AFTER_COMPLETION,
            Feature.FLOW_ITEMS,
            Feature.FLOW_DISCOUNTS,
            Feature.FLOW_RETENTION_OFFER,
            Feature.ON_BEHALF_OF,
            Feature.IDEMPOTENCY_KEY,
            Feature.PROVIDER_OPTIONS,
            Feature.CONFIGURE_CANCEL_SUBSCRIPTION,
            Feature.CONFIGURE_UPDATE_SUBSCRIPTION,
            Feature.CONFIGURE_UPDATE_PAYMENT_METHOD,
            Feature.CONFIGURE_VIEW_INVOICES,
        }
    )
    portal_hosts: ClassVar[tuple[str, ...]] = ("billing.stripe.com",)

    api_key: str = attrs.field(repr=False, validator=[check.secret, _api_key])
    base_url: str = attrs.field(default=API_BASE_URL, converter=strip_slash, validator=_base_url)
    stripe_version: str = attrs.field(default=STRIPE_VERSION)
    stripe_account: str | None = attrs.field(default=None)
    configuration: str | None = attrs.field(default=None)
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)

    def __attrs_post_init__(self) -> None:
        version_problem = api_version_problem(self.stripe_version)
        if version_problem is not None:
            raise InvalidRequest.local("stripe_version", version_problem, provider=self.name)
        if self.stripe_account is not None:
            self._require("stripe_account", self.stripe_account, ACCOUNT_ID, "acct_...")
        if self.configuration is not None:
            self._require("configuration", self.configuration, CONFIGURATION_ID, "bpc_...")

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Stripe:
        """``STRIPE_API_KEY`` (required), ``STRIPE_BASE_URL`` and ``STRIPE_API_VERSION``
        (optional)."""
        api_key = env.require("api_key")
        if not API_KEY.fullmatch(api_key):
            raise env.error("api_key", "must start with sk_live_, sk_test_, rk_live_ or rk_test_")
        # Checked here: the variable is named for Stripe's API version, the field for its
        # header (stripe_version), so the registry could not name the variable from it.
        api_version = env.get("api_version", default=STRIPE_VERSION)
        version_problem = api_version_problem(api_version)
        if version_problem is not None:
            raise env.error("api_version", version_problem)
        return cls(
            api_key=api_key,
            base_url=env.get("base_url", default=API_BASE_URL),
            stripe_version=api_version,
        )

    # -- the feature policy's question --------------------------------------------------

    def accepts(self, feature: Feature, request: PortalRequest) -> bool:
        """A locale Stripe has nothing close to (``ar``, ``he``, ...) is unsupported for this
        request, so the feature policy drops it (or refuses it under ``strict=True``) rather
        than sending what Stripe would refuse."""
        if feature is Feature.LOCALE and request.locale is not None:
            return stripe_locale(request.locale) is not None
        return True

    # -- one session ----------------------------------------------------------------------

    def build_request(self, request: PortalRequest) -> httpx.Request:
        """The session create. With configuration toggles, only when this process already
        holds their managed configuration; otherwise they need ``exchange``."""
        params, options = self._session_params(request)
        configuration = options.base
        if options.toggles:
            configuration = managed_configurations.get(self._cache_key(request, options))
            if configuration is None:
                raise InvalidRequest.local(
                    "configuration",
                    "stripe needs a managed portal configuration for these toggles, made by"
                    " a multi-request exchange (Stripe.exchange) this shell does not drive;"
                    " pre-create one and pass its bpc_ id instead",
                    provider=self.name,
                )
        return self._session_request(request, params, options, configuration)

    def exchange(self, request: PortalRequest) -> Exchange:
        """Every request a session takes (see the module docstring): one, unless the request
        has configuration toggles and this process has not made their configuration yet."""
        params, options = self._session_params(request)  # all local checks, before any I/O
        if not options.toggles:
            response = yield self._session_request(request, params, options, options.base)
            return self.parse_response(response, request)
        # The cache is read once, here, and written only once the link is read: the shell
        # may replay this exchange's earlier answers into a fresh one (to retry a step whose
        # answer was unreadable), and a replay must take the same path as the original.
        cache_key = self._cache_key(request, options)
        cached = managed_configurations.get(cache_key)
        if cached is not None:
            try:
                response = yield self._session_request(request, params, options, cached)
            except InvalidRequest as error:
                if error.field != "configuration":
                    raise
            else:
                return self.parse_response(response, request)
        configuration = yield from self._managed_configuration(options)
        response = yield self._session_request(request, params, options, configuration)
        link = self.parse_response(response, request)
        if cached is not None:  # deleted or deactivated since it was cached: made again
            managed_configurations.forget(cache_key, cached)
        managed_configurations.put(cache_key, configuration)
        return link

    def _session_params(self, request: PortalRequest) -> tuple[dict[str, Any], _Options]:
        check.require_pattern(
            "customer_id",
            request.customer_id,
            CUSTOMER_ID,
            "cus_ followed by letters and digits",
            self.name,
        )
        if request.idempotency_key is None:
            raise InvalidRequest.local(
                "idempotency_key", "is required by stripe (Portal makes one)", provider=self.name
            )
        options = self._options(request)
        params: dict[str, Any] = {"customer": request.customer_id}
        if request.return_url is not None:
            params["return_url"] = request.return_url
        if request.locale is not None:
            locale = stripe_locale(request.locale)
            if locale is None:  # the feature policy drops these first; called directly
                raise InvalidRequest.local(
                    "locale", f"stripe has no locale close to {request.locale!r}", self.name
                )
            params["locale"] = locale
        if request.on_behalf_of is not None:
            self._require("on_behalf_of", request.on_behalf_of, ACCOUNT_ID, "acct_...")
            params["on_behalf_of"] = request.on_behalf_of
        if request.flow is not None:
            flow_data = self._flow_data(request.flow)
            if flow_data is not None:
                params["flow_data"] = flow_data
        merge_options(params, options.extra, self.name)
        return params, options

    def _options(self, request: PortalRequest) -> _Options:
        extra = dict(request.options_for(self.name))
        field = f"provider_options[{self.name!r}]"
        base = extra.pop("configuration", None)
        if base is not None:
            self._require(f"{field}.configuration", base, CONFIGURATION_ID, "bpc_...")
        account = extra.pop("stripe_account", None)
        if account is not None:
            self._require(f"{field}.stripe_account", account, ACCOUNT_ID, "acct_...")
        toggles = request.configuration.overrides() if request.configuration else {}
        return _Options(
            base=base or self.configuration,
            account=account or self.stripe_account,
            toggles=toggles,
            extra=extra,
        )

    def _flow_data(self, flow: Flow) -> dict[str, Any] | None:
        action = flow.action
        if action is Action.OVERVIEW and flow.subscription_id is None:
            return None  # the portal's front page is where a session opens anyway
        if action not in _FLOW_TYPES:
            raise self._unsupported_flow(flow, "stripe has no flow for it")
        if action in _PER_SUBSCRIPTION:
            if flow.subscription_id is None:
                raise self._unsupported_flow(flow, "stripe's flow needs a subscription_id")
            self._require("flow.subscription_id", flow.subscription_id, SUBSCRIPTION_ID, "sub_...")
        elif flow.subscription_id is not None:
            raise self._unsupported_flow(
                flow, "stripe's flow is for the customer, not one subscription"
            )
        flow_type = _FLOW_TYPES[action]
        details: dict[str, Any] = {}
        if action is Action.CANCEL_SUBSCRIPTION:
            details = {"subscription": flow.subscription_id}
            if flow.retention is not None:
                details["retention"] = {
                    "type": "coupon_offer",
                    "coupon_offer": {"coupon": flow.retention.coupon},
                }
        elif action is Action.UPDATE_SUBSCRIPTION:
            details = {"subscription": flow.subscription_id}
            if flow.items:
                flow_type = _CONFIRM_TYPE
                details["items"] = self._confirm_items(flow)
                if flow.discounts:
                    details["discounts"] = self._confirm_discounts(flow)
        flow_data: dict[str, Any] = {"type": flow_type}
        if details:
            flow_data[flow_type] = details
        if flow.after_completion is not None:
            flow_data["after_completion"] = _after_completion(flow.after_completion)
        return flow_data

    def _confirm_items(self, flow: Flow) -> list[dict[str, Any]]:
        if len(flow.items) > MAX_CONFIRM_ITEMS:
            raise InvalidRequest.local(
                "flow.items", f"stripe confirms at most {MAX_CONFIRM_ITEMS} item", self.name
            )
        items = []
        for index, item in enumerate(flow.items):
            self._require(
                f"flow.items[{index}].subscription_item_id",
                item.subscription_item_id,
                SUBSCRIPTION_ITEM_ID,
                "si_...",
            )
            wire: dict[str, Any] = {"id": item.subscription_item_id}
            if item.price_id is not None:
                wire["price"] = item.price_id
            if item.quantity is not None:
                wire["quantity"] = item.quantity
            items.append(wire)
        return items

    def _confirm_discounts(self, flow: Flow) -> list[dict[str, Any]]:
        discounts: list[dict[str, str | None]] = []
        for index, discount in enumerate(flow.discounts):
            if discount.promotion_code is not None:
                self._require(
                    f"flow.discounts[{index}].promotion_code",
                    discount.promotion_code,
                    PROMOTION_CODE_ID,
                    "promo_... (the promotion code's id, not the code customers type)",
                )
                discounts.append({"promotion_code": discount.promotion_code})
            else:
                discounts.append({"coupon": discount.coupon})
        return discounts

    def _unsupported_flow(self, flow: Flow, why: str) -> UnsupportedFeature:
        target = f" for {flow.subscription_id!r}" if flow.subscription_id else ""
        return UnsupportedFeature(
            f"flow: {flow.action.value!r}{target}: {why}",
            feature=Feature.FLOW.value,
            field="flow",
            rule="unsupported flow for stripe",
            provider=self.name,
        )

    def _require(self, field: str, value: object, pattern: re.Pattern[str], shape: str) -> None:
        if not isinstance(value, str):
            raise InvalidRequest.local(field, f"must be a string ({shape})", provider=self.name)
        check.identifier(field, value)
        check.require_pattern(field, value, pattern, shape, self.name)

    def _headers(self, options: _Options, idempotency_key: str | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Stripe-Version": self.stripe_version,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if options.account is not None:
            headers["Stripe-Account"] = options.account
        return headers

    def _session_request(
        self,
        request: PortalRequest,
        params: dict[str, Any],
        options: _Options,
        configuration: str | None,
    ) -> httpx.Request:
        if configuration is not None:
            params = {**params, "configuration": configuration}
        return httpx.Request(
            "POST",
            self.base_url + SESSIONS_PATH,
            headers=self._headers(options, request.idempotency_key),
            content=form_body(params),
        )

    # -- managed configurations -----------------------------------------------------------

    def _cache_key(self, request: PortalRequest, options: _Options) -> tuple[str, ...]:
        who = hashlib.sha256(self.api_key.encode()).hexdigest()[:16]  # never the key itself
        toggles = ",".join(
            f"{action.value}={allowed}" for action, allowed in sorted(options.toggles.items())
        )
        return (who, self.base_url, options.account or "", options.base or "", toggles)

    def _managed_configuration(
        self, options: _Options
    ) -> Generator[httpx.Request, httpx.Response, str]:
        """Find the base configuration (and one made before for these toggles) in the
        account's active configurations; make the derived one when there is none."""
        base: dict[str, Any] | None = None
        made_before: dict[str, str] = {}  # fingerprint -> id
        starting_after: str | None = None
        for _ in range(MAX_CONFIGURATION_PAGES):
            query: dict[str, Any] = {"active": True, "limit": 100}
            if starting_after is not None:
                query["starting_after"] = starting_after
            url = f"{self.base_url}{CONFIGURATIONS_PATH}?{form_body(query).decode()}"
            response = yield httpx.Request("GET", url, headers=self._headers(options, None))
            reply = _reply(response)
            page = reply.structure(converter, reply.json_object(), ConfigurationPage)
            for data in page.data:
                configuration = _read_configuration(reply, data)
                wanted = (
                    configuration.id == options.base
                    if options.base is not None
                    else configuration.is_default
                )
                if wanted:
                    base = data
                fingerprint = (configuration.metadata or {}).get(FINGERPRINT_METADATA)
                if isinstance(fingerprint, str):
                    made_before[fingerprint] = configuration.id
            if not page.has_more or not page.data:
                break
            starting_after = _read_configuration(reply, page.data[-1]).id
        if base is None:
            raise InvalidRequest.local(
                "configuration",
                f"stripe has no active portal configuration {options.base}"
                if options.base is not None
                else "the stripe account has no default portal configuration: save the"
                " customer portal settings in the dashboard first",
                provider=self.name,
            )
        base_configuration = _reply(response).structure(converter, base, Configuration)
        fingerprint = configuration_fingerprint(
            base_configuration.id, base_configuration.updated, options.toggles
        )
        if fingerprint in made_before:
            return made_before[fingerprint]
        created = yield httpx.Request(
            "POST",
            self.base_url + CONFIGURATIONS_PATH,
            headers=self._headers(options, f"portalkit-bpc-{fingerprint}"),
            content=form_body(derived_params(base, options.toggles, fingerprint)),
        )
        reply = _reply(created)
        return _read_configuration(reply, reply.json_object()).id

    # -- the answer -----------------------------------------------------------------------

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = _reply(response)
        body = reply.json_object()
        session = reply.structure(converter, body, Session)
        deep_links: tuple[DeepLink, ...] = ()
        flow = request.flow
        if flow is not None and flow.action is not Action.OVERVIEW:
            sent = _CONFIRM_TYPE if flow.items else _FLOW_TYPES[flow.action]
            echoed = session.flow.get("type") if isinstance(session.flow, dict) else None
            if echoed != sent:
                # The link would open somewhere else than the app asked for.
                raise reply.invalid("a session that does not open the requested flow")
            deep_links = (DeepLink(flow.action, flow.subscription_id, session.url),)
        return PortalLink(
            provider=self.name,
            session_id=session.id,
            customer_id=session.customer,
            url=session.url,
            expires_at=None,  # Stripe calls sessions short-lived and says nothing more
            created_at=reply.unix_time(session.created, "created"),
            return_url=session.return_url,
            deep_links=deep_links,
            request_id=reply.request_id,
            raw=body,
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = _reply(response)
        if not reply.has_error_object("type", "code"):  # Stripe's own answer, or another's
            return reply.unexpected_endpoint()
        wire = reply.error_body(converter, ErrorEnvelope).error
        kind, code, param = wire.type or None, wire.code or None, wire.param
        cls: type[PortalError] | None = None
        if kind == "idempotency_error":
            cls = IdempotencyConflict
        elif code == "resource_missing":
            # A 404 is "no such customer" only when the customer is what is missing.
            cls = CustomerNotFound if param == "customer" else InvalidRequest
        elif code == "rate_limit":  # Stripe's older rate limits came as a 400
            cls = RateLimited
        elif kind == "api_error":
            cls = ProviderUnavailable
        elif response.status_code == 404 and code is None:
            # Stripe's 404 without a code is its "Unrecognized request URL": the base URL's
            # path is wrong (a stray /v1, a proxy's prefix), not the customer.
            return reply.unexpected_endpoint(
                "answered HTTP 404 for a URL stripe's API does not know (stripe's"
                ' "Unrecognized request URL": no error code)'
            )
        shown = code or kind
        error = reply.error(
            code=shown, message=wire.message, overrides={shown: cls} if shown and cls else None
        )
        if isinstance(error, InvalidRequest) and param and _PARAM.fullmatch(param):
            error.field = param  # Stripe's name for it: "customer", "flow_data[type]", ...
        hint = response.headers.get("Stripe-Should-Retry", "").strip().lower()
        if hint in ("true", "false"):
            # Stripe knows better than the status: a lock timeout (409) may be retried, a
            # 500 its idempotency layer will only replay may not.
            error.retryable = hint == "true"
        return error


@attrs.frozen(repr=False, eq=False, slots=False)
class _Options:
    """What a request's Stripe options and the adapter's settings decide together."""

    base: str | None  # the configuration sessions use, or toggles are applied to
    account: str | None  # the Stripe-Account header
    toggles: Mapping[Action, bool]
    extra: Mapping[str, Any]  # other provider options: body fields, as given


_PARAM = re.compile(r"[A-Za-z0-9_\[\]]{1,100}")


def _after_completion(after: AfterCompletion) -> dict[str, Any]:
    kind = _AFTER_COMPLETION_TYPES[after.kind]
    wire: dict[str, Any] = {"type": kind}
    if after.kind is AfterCompletionKind.REDIRECT:
        wire["redirect"] = {"return_url": after.url}
    elif after.kind is AfterCompletionKind.CONFIRMATION and after.message is not None:
        wire["hosted_confirmation"] = {"custom_message": after.message}
    return wire


def _read_configuration(reply: Reply, data: object) -> Configuration:
    configuration = reply.structure(converter, data, Configuration)
    if not CONFIGURATION_ID.fullmatch(configuration.id):
        raise reply.invalid("a configuration id that is not bpc_...")
    return configuration


def _reply(response: httpx.Response) -> Reply:
    return Reply.of(response, Stripe.name, request_id=_request_id(response))


def _request_id(response: httpx.Response) -> str | None:
    # Stripe's own header; X-Request-Id is what a proxy or load balancer in front of it
    # (an HTML 502) may carry instead, and is better than no id at all.
    return request_id_from_headers(response, "Request-Id", "X-Request-Id")
