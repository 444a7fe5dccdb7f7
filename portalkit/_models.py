"""The vendor-neutral request and result: PortalRequest in, PortalLink out.

Everything here is snake_case and knows no vendor; each adapter translates to and from
its own wire shapes at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

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
    UPDATE_CUSTOMER_DETAILS = "update_customer_details"  # name, e-mail, address, tax ids


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
    #: Not a request field: the provider can end a minted session early, from the server
    #: (``Portal.end_session(link)``); other providers refuse that call before sending.
    END_SESSION = "end_session"
    #: What the portal does once a flow is done (redirect, confirmation message, home page).
    FLOW_AFTER_COMPLETION = "flow_after_completion"
    #: A plan change for the customer to confirm: the subscription items and their new
    #: price or quantity.
    FLOW_ITEMS = "flow_items"
    #: Discounts (coupon, promotion code) applied to a confirmed plan change.
    FLOW_DISCOUNTS = "flow_discounts"
    #: An offer (a coupon) made to a customer who is about to cancel.
    FLOW_RETENTION_OFFER = "flow_retention_offer"
    #: The request names the customer by the app's own id (``CustomerIdKind.EXTERNAL``).
    EXTERNAL_CUSTOMER_ID = "external_customer_id"


class CustomerIdKind(StrEnum):
    """Whose id ``PortalRequest.customer_id`` is.

    ``VENDOR`` (the default): the billing vendor's own id for the customer (``cus_...``,
    ``ctm_...``). ``EXTERNAL``: the app's own id for the customer (its user or account id),
    which some vendors store on their customer and can look the customer up by. During a
    migration that is the one key both vendors share. A vendor that cannot look a customer
    up this way refuses the request (``UnsupportedFeature``) before anything is sent: sending
    the app's id as if it were the vendor's would name the wrong customer, or none.
    """

    VENDOR = "vendor"
    EXTERNAL = "external"


def to_customer_id_kind(value: CustomerIdKind | str) -> CustomerIdKind:
    if type(value) is CustomerIdKind:  # the common case, without the enum look-up
        return value
    try:
        return CustomerIdKind(value)
    except ValueError:
        check.fail(
            "customer_id_kind", f"must be one of {', '.join(kind for kind in CustomerIdKind)}"
        )


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


class AfterCompletionKind(StrEnum):
    """What the portal does once the customer finishes a flow."""

    REDIRECT = "redirect"  # send the customer to a URL of the app
    CONFIRMATION = "confirmation"  # show the portal's own confirmation page
    PORTAL_HOME = "portal_home"  # go on to the portal's front page


#: The longest after-completion message accepted (the tightest limit a vendor sets).
MAX_CONFIRMATION_MESSAGE = 500


@attrs.frozen
class AfterCompletion:
    """What happens after a flow completes. Build one with :meth:`redirect`,
    :meth:`confirmation` or :meth:`portal_home`."""

    kind: AfterCompletionKind = attrs.field(converter=AfterCompletionKind)
    #: Where ``REDIRECT`` sends the customer (an absolute https URL).
    url: str | None = attrs.field(default=None, kw_only=True)
    #: The text ``CONFIRMATION`` shows instead of the portal's own, when given.
    message: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.kind is AfterCompletionKind.REDIRECT:
            if self.url is None:
                check.fail("flow.after_completion.url", "is required for a redirect")
            check.return_url("flow.after_completion.url", self.url)
        elif self.url is not None:
            check.fail("flow.after_completion.url", "is only for a redirect")
        if self.message is not None:
            if self.kind is not AfterCompletionKind.CONFIRMATION:
                check.fail("flow.after_completion.message", "is only for a confirmation")
            check.message("flow.after_completion.message", self.message, MAX_CONFIRMATION_MESSAGE)

    @classmethod
    def redirect(cls, url: str) -> AfterCompletion:
        """Send the customer to ``url`` when the flow is done."""
        return cls(AfterCompletionKind.REDIRECT, url=url)

    @classmethod
    def confirmation(cls, message: str | None = None) -> AfterCompletion:
        """Show a confirmation page (with ``message``, when given)."""
        return cls(AfterCompletionKind.CONFIRMATION, message=message)

    @classmethod
    def portal_home(cls) -> AfterCompletion:
        """Go on to the portal's front page."""
        return cls(AfterCompletionKind.PORTAL_HOME)


@attrs.frozen
class FlowItem:
    """One subscription item of a plan change the customer is asked to confirm: its new
    price, its new quantity, or both."""

    subscription_item_id: str = attrs.field()
    price_id: str | None = attrs.field(default=None, kw_only=True)
    quantity: int | None = attrs.field(default=None, kw_only=True)

    @subscription_item_id.validator
    def _check_item(self, attribute: attrs.Attribute[str], value: object) -> None:
        check.identifier("flow.items.subscription_item_id", value)

    @price_id.validator
    def _check_price(self, attribute: attrs.Attribute[str | None], value: object) -> None:
        if value is not None:
            check.identifier("flow.items.price_id", value)

    @quantity.validator
    def _check_quantity(self, attribute: attrs.Attribute[int | None], value: object) -> None:
        if value is not None:
            check.count("flow.items.quantity", value)

    def __attrs_post_init__(self) -> None:
        if self.price_id is None and self.quantity is None:
            check.fail("flow.items", "each item needs a price_id or a quantity (the change)")


@attrs.frozen
class FlowDiscount:
    """A discount on a confirmed plan change: exactly one of a coupon or a promotion code."""

    coupon: str | None = attrs.field(default=None, kw_only=True)
    promotion_code: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if (self.coupon is None) == (self.promotion_code is None):
            check.fail("flow.discounts", "each discount is exactly one of coupon or promotion_code")
        if self.coupon is not None:
            check.identifier("flow.discounts.coupon", self.coupon)
        if self.promotion_code is not None:
            check.identifier("flow.discounts.promotion_code", self.promotion_code)


@attrs.frozen
class RetentionOffer:
    """Offered to a customer who is cancelling: a coupon, to stay."""

    coupon: str = attrs.field()

    @coupon.validator
    def _check_coupon(self, attribute: attrs.Attribute[str], value: object) -> None:
        check.identifier("flow.retention.coupon", value)


def _to_items(values: Iterable[FlowItem]) -> tuple[FlowItem, ...]:
    return (values,) if isinstance(values, FlowItem) else tuple(values)


def _to_discounts(values: Iterable[FlowDiscount]) -> tuple[FlowDiscount, ...]:
    return (values,) if isinstance(values, FlowDiscount) else tuple(values)


@attrs.frozen
class Flow:
    """Open the portal at one action, optionally for one subscription (Stripe's ``flow_data``;
    Paddle's per-subscription deep links).

    - ``after_completion``: what the portal does once the flow is done.
    - ``items`` (and ``discounts``): with ``UPDATE_SUBSCRIPTION``, the plan change the
      customer is asked to confirm, instead of choosing one.
    - ``retention``: with ``CANCEL_SUBSCRIPTION``, an offer made before the cancel goes
      through.
    """

    action: Action = attrs.field(converter=_to_action)
    subscription_id: str | None = attrs.field(default=None)
    after_completion: AfterCompletion | None = attrs.field(default=None, kw_only=True)
    items: tuple[FlowItem, ...] = attrs.field(default=(), converter=_to_items, kw_only=True)
    discounts: tuple[FlowDiscount, ...] = attrs.field(
        default=(), converter=_to_discounts, kw_only=True
    )
    retention: RetentionOffer | None = attrs.field(default=None, kw_only=True)

    @subscription_id.validator
    def _check_subscription_id(
        self, attribute: attrs.Attribute[str | None], value: str | None
    ) -> None:
        if value is not None:
            check.identifier("flow.subscription_id", value)

    def __attrs_post_init__(self) -> None:
        check.instance_of("flow.after_completion", self.after_completion, AfterCompletion)
        check.instance_of("flow.retention", self.retention, RetentionOffer)
        for index, item in enumerate(self.items):
            check.instance_of(f"flow.items[{index}]", item, FlowItem)
        for index, discount in enumerate(self.discounts):
            check.instance_of(f"flow.discounts[{index}]", discount, FlowDiscount)
        if self.after_completion is not None and self.action is Action.OVERVIEW:
            check.fail("flow.after_completion", "needs a flow to complete, not the overview")
        changing = Action.UPDATE_SUBSCRIPTION
        if self.items and (self.action is not changing or self.subscription_id is None):
            check.fail("flow.items", "needs action update_subscription and a subscription_id")
        if self.discounts and not self.items:
            check.fail("flow.discounts", "needs flow.items (the change the discount applies to)")
        check.unique("flow.items", [item.subscription_item_id for item in self.items])
        if self.retention is not None and (
            self.action is not Action.CANCEL_SUBSCRIPTION or self.subscription_id is None
        ):
            check.fail("flow.retention", "needs action cancel_subscription and a subscription_id")


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

    Only ``customer_id`` is required. It is the vendor's id for the customer, unless
    ``customer_id_kind`` says it is the app's own (``PortalRequest.for_external_id``). Every
    value is checked here, at construction, against the rules that hold for every vendor;
    each adapter checks its own id formats before anything is sent.
    """

    customer_id: str = attrs.field()
    #: Whose id ``customer_id`` is: the vendor's (the default) or the app's own.
    customer_id_kind: CustomerIdKind = attrs.field(
        default=CustomerIdKind.VENDOR, converter=to_customer_id_kind, kw_only=True
    )
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

    @classmethod
    def for_external_id(cls, customer_id: str, **fields: Any) -> PortalRequest:
        """A request naming the customer by the app's own id for it (its user or account
        id), not the vendor's: ``PortalRequest.for_external_id("usr_123", return_url=...)``.

        Only vendors that can look a customer up by the app's id honour it (see
        ``Feature.EXTERNAL_CUSTOMER_ID``); the others refuse it before anything is sent.
        """
        return cls(customer_id, customer_id_kind=CustomerIdKind.EXTERNAL, **fields)

    @property
    def vendor_customer_id(self) -> str | None:
        """The vendor's id for the customer when this request names it (the link's
        ``customer_id`` must then be this id); None when the request names the customer by
        the app's own id, because then only the vendor's answer says which of its customers
        that is (the adapter checks the vendor's echo of the app's id instead)."""
        return self.customer_id if self.customer_id_kind is CustomerIdKind.VENDOR else None

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
    it and do not store or log it. ``repr()`` and ``str()`` show only a URL's scheme and host,
    never its path, query or fragment: vendors put the token there, and some the customer's
    e-mail address too."""

    provider: str
    session_id: str
    #: The vendor's id for the customer, as the vendor answered, even when the request named
    #: the customer by the app's own id (``CustomerIdKind.EXTERNAL``).
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
    #: The session's state as the vendor reported it when minting, in the vendor's own
    #: words (e.g. "created"); None when the vendor reports no state.
    status: str | None = None
    #: The vendor's decoded response body, as received. Holds the URL and may hold personal
    #: data (some vendors include the customer object, with its e-mail address): never log
    #: it. Never shown by ``repr()``.
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


_T = TypeVar("_T")
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def unchecked_copy(instance: _T, **changes: Any) -> _T:
    """``attrs.evolve(instance, **changes)`` without running converters and validators again,
    for changes portalkit made itself and that need no check: the idempotency key it
    generated (a uuid4), the ignored-field names it listed. ``evolve`` re-validates every
    field, the return URL parse among them: about 5 µs on every create."""
    cls = type(instance)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in attrs.fields(cls))  # type: ignore[arg-type]  # an attrs class, as every caller's
    copy = object.__new__(cls)
    for name in names:
        value = changes[name] if name in changes else getattr(instance, name)
        object.__setattr__(copy, name, value)
    return copy
