"""The vendor-neutral request and result: PortalRequest in, PortalLink out.

Everything here is snake_case and knows no vendor; each adapter translates to and from
its own wire shapes at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs

from . import _validation as check
from ._redact import redact_url, session_label
from .errors import DeepLinkNotFound


class Action(StrEnum):
    """Something a customer can do in a hosted portal; used for deep links, flows and
    per-session configuration."""

    OVERVIEW = "overview"
    CANCEL_SUBSCRIPTION = "cancel_subscription"
    UPDATE_SUBSCRIPTION = "update_subscription"  # change plan, quantity
    UPDATE_PAYMENT_METHOD = "update_payment_method"
    VIEW_INVOICES = "view_invoices"


class Feature(StrEnum):
    """Something a request can ask for that not every vendor supports.

    Each provider declares the features it supports; see ``portalkit.COSMETIC_FEATURES`` for
    which ones are dropped (and listed on the link) rather than refused when unsupported.
    """

    RETURN_URL = "return_url"
    LOCALE = "locale"
    SUBSCRIPTION_DEEP_LINKS = "subscription_deep_links"
    FLOW = "flow"
    ON_BEHALF_OF = "on_behalf_of"
    IDEMPOTENCY_KEY = "idempotency_key"
    PROVIDER_OPTIONS = "provider_options"
    CONFIGURE_CANCEL_SUBSCRIPTION = "configure_cancel_subscription"
    CONFIGURE_UPDATE_SUBSCRIPTION = "configure_update_subscription"
    CONFIGURE_UPDATE_PAYMENT_METHOD = "configure_update_payment_method"
    CONFIGURE_VIEW_INVOICES = "configure_view_invoices"


@attrs.frozen
class PortalConfiguration:
    """Which actions this one session allows. ``None`` for an action keeps the vendor's
    workspace default; ``True``/``False`` overrides it for this session only."""

    cancel_subscription: bool | None = None
    update_subscription: bool | None = None
    update_payment_method: bool | None = None
    view_invoices: bool | None = None

    def overrides(self) -> dict[Action, bool]:
        """The actions this configuration sets explicitly."""
        return {
            Action(field.name): value
            for field in attrs.fields(PortalConfiguration)
            if (value := getattr(self, field.name)) is not None
        }


def _to_action(value: Action | str) -> Action:
    try:
        return Action(value)
    except ValueError:
        check.fail("flow.action", f"must be one of {', '.join(action for action in Action)}")


@attrs.frozen
class Flow:
    """Open the portal at one action, optionally for one subscription (Stripe's ``flow_data``;
    Paddle's per-subscription deep links)."""

    action: Action = attrs.field(converter=_to_action)
    subscription_id: str | None = attrs.field(default=None)

    @subscription_id.validator
    def _check_subscription_id(
        self, attribute: attrs.Attribute[str | None], value: str | None
    ) -> None:
        if value is not None:
            check.identifier("flow.subscription_id", value)


def _to_tuple(values: Iterable[str] | None) -> tuple[str, ...]:
    if values is None:  # a nullable column passed through: no subscriptions
        return ()
    if isinstance(values, str):  # a lone id is a common slip: don't split it into characters
        return (values,)
    return tuple(values)


#: Read-only, so one instance serves every request without options (most of them).
_NO_OPTIONS: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


def _freeze_options(options: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    if type(options) is dict and not options:  # the default: skip building a new proxy
        return _NO_OPTIONS
    return MappingProxyType({name: MappingProxyType(dict(opts)) for name, opts in options.items()})


@attrs.frozen(eq=True, hash=False)
class PortalRequest:
    """One request for a customer-portal link, in vendor-neutral terms.

    Only ``customer_id`` is required. Every value is checked here, at construction, against
    the rules that hold for every vendor; each adapter checks its own id formats before
    anything is sent.
    """

    customer_id: str = attrs.field()
    return_url: str | None = attrs.field(default=None, kw_only=True)
    #: Subscriptions to mint deep links for (cancel, update payment method, ...).
    subscription_ids: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple, kw_only=True)
    #: Which actions this session allows; None keeps the vendor's workspace defaults.
    configuration: PortalConfiguration | None = attrs.field(default=None, kw_only=True)
    #: Open the portal at one action (and subscription) instead of its front page.
    flow: Flow | None = attrs.field(default=None, kw_only=True)
    locale: str | None = attrs.field(default=None, kw_only=True)
    #: A platform minting for one of its merchant accounts.
    on_behalf_of: str | None = attrs.field(default=None, kw_only=True)
    #: Generated by Portal when absent, and reused on every retry of this request.
    idempotency_key: str | None = attrs.field(default=None, kw_only=True)
    #: Escape hatch: extra body fields per provider name, e.g. {"paylera": {"theme": "dark"}}.
    #: Only the entry for the provider that serves the request is used.
    provider_options: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, converter=_freeze_options, kw_only=True
    )

    @customer_id.validator
    def _check_customer_id(self, attribute: attrs.Attribute[str], value: str) -> None:
        check.identifier("customer_id", value)

    @return_url.validator
    def _check_return_url(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None:
            check.return_url("return_url", value)

    @subscription_ids.validator
    def _check_subscription_ids(
        self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
    ) -> None:
        if not value:  # the common case: nothing to check, and no set for unique() to build
            return
        for index, subscription_id in enumerate(value):
            check.identifier(f"subscription_ids[{index}]", subscription_id)
        check.unique("subscription_ids", value)

    @configuration.validator
    def _check_configuration(
        self, attribute: attrs.Attribute[PortalConfiguration | None], value: object
    ) -> None:
        check.instance_of("configuration", value, PortalConfiguration)

    @flow.validator
    def _check_flow(self, attribute: attrs.Attribute[Flow | None], value: object) -> None:
        check.instance_of("flow", value, Flow)

    @locale.validator
    def _check_locale(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is not None:
            check.locale("locale", value)

    @on_behalf_of.validator
    def _check_on_behalf_of(
        self, attribute: attrs.Attribute[str | None], value: str | None
    ) -> None:
        if value is not None:
            check.identifier("on_behalf_of", value)

    @idempotency_key.validator
    def _check_idempotency_key(
        self, attribute: attrs.Attribute[str | None], value: str | None
    ) -> None:
        if value is not None:
            check.token("idempotency_key", value)

    def options_for(self, provider: str) -> Mapping[str, Any]:
        """The escape-hatch fields meant for ``provider`` (empty when none)."""
        return self.provider_options.get(provider, {})


@attrs.frozen
class DeepLink:
    """A portal link that opens at one action, for one subscription or (None) the account."""

    action: Action
    subscription_id: str | None
    url: str = attrs.field(repr=redact_url)


@attrs.frozen(repr=False)
class PortalLink:
    """A minted customer-portal link. ``url`` is a bearer credential: redirect the customer to
    it and do not store or log it. ``repr()`` and ``str()`` never show a URL's token."""

    provider: str
    session_id: str
    customer_id: str
    url: str = attrs.field(repr=redact_url)
    #: When the link stops working (UTC); None when the vendor does not say.
    expires_at: datetime | None = None
    #: When the vendor minted it (UTC); None when the vendor does not say.
    created_at: datetime | None = None
    #: The return URL as the vendor echoed it (or as sent, when the vendor echoes nothing).
    return_url: str | None = None
    deep_links: tuple[DeepLink, ...] = ()
    #: The vendor's id for the HTTP request, for support tickets.
    request_id: str | None = None
    #: The idempotency key sent with the request (None for vendors without idempotency keys).
    idempotency_key: str | None = None
    #: Request fields this vendor ignored (cosmetic hints it does not support).
    ignored_fields: tuple[str, ...] = ()
    #: The vendor's decoded response body, as received. Holds the URL: never log it.
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    def __repr__(self) -> str:
        # The URL shows only its host, and a session id that is part of the URL is cut short.
        shown = []
        for field in attrs.fields(PortalLink):
            if not field.repr:
                continue
            value = getattr(self, field.name)
            if field.name == "url":
                text = redact_url(value)
            elif field.name == "session_id":
                text = repr(session_label(value, self.url))
            else:
                text = repr(value)
            shown.append(f"{field.name}={text}")
        return f"PortalLink({', '.join(shown)})"

    def deep_link(self, action: Action | str, subscription_id: str | None = None) -> str:
        """The URL that opens the portal at ``action`` (for ``subscription_id``, when given)."""
        try:
            wanted = Action(action)
        except ValueError:
            raise DeepLinkNotFound(
                f"{action!r} is not a portalkit Action", provider=self.provider
            ) from None
        for link in self.deep_links:
            if link.action is wanted and link.subscription_id == subscription_id:
                return link.url
        target = f"subscription {subscription_id!r}" if subscription_id else "the account"
        raise DeepLinkNotFound(
            f"{self.provider} minted no {wanted.value!r} link for {target}",
            provider=self.provider,
        )
