"""Receiving a vendor's webhooks: verify the delivery, then read it into a ``BillingEvent``.

A vendor's webhook module declares a ``VendorWebhooks`` (its signature scheme, its reader
and its event table) and registers it in the ``portalkit.webhooks`` entry-point group under
its adapter's name. This module names no vendor: ``Webhooks`` finds the vendor's declaration
through that group, so a plug-in vendor gets verification, the web views, the event log and
the CLI by registering.

``verify_delivery`` is the whole job as a pure function of (headers, raw body, secrets,
now); ``Webhooks`` holds the configuration and reads the clock::

    hooks = Webhooks.from_env()                  # PORTALKIT_PROVIDER, <VENDOR>_WEBHOOK_SECRET
    event = hooks.parse(request.headers, raw_body)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._env import ProviderEnv
from ._events import BillingEvent, EventType
from ._signatures import BasicPair, Secret, SignatureScheme, Signed, rejected
from .errors import ConfigurationError, RejectionReason, WebhookRejected

if TYPE_CHECKING:
    import cattrs

    from ._wire import LazyConverter

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "WEBHOOKS_GROUP",
    "Delivery",
    "EventMapping",
    "VendorWebhooks",
    "Webhooks",
    "available_webhook_providers",
    "get_vendor_webhooks",
    "verify_delivery",
]

#: The entry-point group a vendor's ``VendorWebhooks`` registers in, under its adapter's name.
WEBHOOKS_GROUP = "portalkit.webhooks"
#: A body larger than this is refused unread (``RejectionReason.TOO_LARGE``): the vendors'
#: events are a few kilobytes.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

T = TypeVar("T")


@attrs.frozen
class EventMapping:
    """One row of a vendor's event table (and of its docs page): the vendor's event, the
    condition under which it means ``type`` (empty: always), and the ``EventType``."""

    vendor_type: str
    type: EventType
    when: str = ""


@attrs.frozen
class Delivery:
    """A verified delivery, as a vendor's reader sees it: the headers (lowercase names), the
    raw body, what the signature vouched for, and helpers that report a payload of the wrong
    shape as ``WebhookRejected(MALFORMED)`` naming the field, never its value."""

    provider: str
    headers: Mapping[str, str]
    body: bytes
    signed: Signed

    @property
    def digest(self) -> str:
        """A stable id for a vendor that sends none: the SHA-256 of the body, which a
        redelivery repeats (its timestamp and signature change; the body does not)."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()

    def malformed(self, what: str) -> WebhookRejected:
        return rejected(self.provider, RejectionReason.MALFORMED, what)

    def structure(
        self, converter: LazyConverter | cattrs.Converter, data: object, cls: type[T]
    ) -> T:
        """``data`` as the vendor's wire class ``cls``."""
        from ._wire import _leaf_messages

        try:
            return converter.structure(data, cls)
        except (ExceptionGroup, KeyError, TypeError, ValueError, AttributeError) as exc:
            details = "; ".join(_leaf_messages(exc))
            raise self.malformed(
                f"the event does not match the vendor's documented shape: {details}"
            ) from None

    def unix_time(self, value: int | float, field: str) -> datetime:
        """Unix seconds as an aware UTC datetime."""
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError, TypeError):
            raise self.malformed(f"{field} is not a unix time") from None

    def iso_time(self, value: str, field: str) -> datetime:
        """An ISO 8601 time with an offset (``Z`` included) as an aware UTC datetime."""
        try:
            parsed = datetime.fromisoformat(value)
        except (ValueError, TypeError):
            raise self.malformed(f"{field} is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise self.malformed(f"{field} has no UTC offset")
        return parsed.astimezone(UTC)

    def event(
        self,
        payload: Mapping[str, Any],
        *,
        id: str,
        type: EventType,
        vendor_type: str,
        occurred_at: datetime,
        customer_id: str | None = None,
        subscription_id: str | None = None,
        ends_at: datetime | None = None,
        resource_version: int | None = None,
    ) -> BillingEvent:
        """The ``BillingEvent``, with this delivery's provider and ``payload`` as ``raw``."""
        return BillingEvent(
            provider=self.provider,
            id=id,
            type=type,
            vendor_type=vendor_type,
            occurred_at=occurred_at,
            customer_id=customer_id or None,
            subscription_id=subscription_id or None,
            ends_at=ends_at,
            resource_version=resource_version,
            raw=payload,
        )


#: A vendor's reader: the verified delivery's JSON object -> the normalized event. It raises
#: ``delivery.malformed(...)`` for a payload of the wrong shape, and maps every event it has
#: no word for to ``EventType.UNKNOWN``.
EventReader = Callable[[dict[str, Any], Delivery], BillingEvent]


@attrs.frozen
class VendorWebhooks:
    """What a vendor's webhook module declares and registers (``portalkit.webhooks``)."""

    provider: str
    signature: SignatureScheme
    read: EventReader
    #: The vendor's events portalkit maps, from the vendor's own catalogue: the docs table.
    events: tuple[EventMapping, ...]
    #: Where the vendor documents its events and signatures, for the docs page.
    docs_url: str = ""

    def mapping_for(self, vendor_type: str) -> tuple[EventMapping, ...]:
        return tuple(row for row in self.events if row.vendor_type == vendor_type)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, bytes):  # an ASGI scope's raw pairs
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        lowered[str(name).lower()] = str(value)
    return lowered


def verify_delivery(
    vendor: VendorWebhooks,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[Secret],
    *,
    now: float,
    tolerance: float | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> BillingEvent:
    """Verify one delivery and read it: a ``BillingEvent``, or ``WebhookRejected``.

    Pure: no clock, no I/O. ``headers`` is any mapping of names to values (any case);
    ``body`` the raw bytes as received (never a re-serialized JSON: the signature is over the
    bytes). ``tolerance`` replaces the vendor's own timestamp window, in seconds.
    """
    provider = vendor.provider
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError("body must be the raw request body as bytes")
    body = bytes(body)
    if len(body) > max_body_bytes:
        raise rejected(
            provider, RejectionReason.TOO_LARGE, f"the body is over {max_body_bytes} bytes"
        )
    lowered = _lower_headers(headers)
    signed = vendor.signature.verify(
        lowered, body, secrets, now=now, tolerance=tolerance, provider=provider
    )
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise rejected(provider, RejectionReason.MALFORMED, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise rejected(provider, RejectionReason.MALFORMED, "the body is not a JSON object")
    return vendor.read(payload, Delivery(provider, lowered, body, signed))


class Webhooks:
    """One vendor's webhook receiver: its secrets, its tolerance and its body limit.

    ``Webhooks("stripe", secrets=["whsec_new", "whsec_old"])`` accepts a delivery signed with
    either (a rotation); ``Webhooks("chargebee", secrets=[BasicPair("user", "pass")])`` for a
    vendor that sends Basic credentials. ``tolerance`` (seconds) replaces the vendor's own
    timestamp window; ``clock`` is for tests.
    """

    def __init__(
        self,
        provider: str | VendorWebhooks,
        secrets: Secret | Sequence[Secret],
        *,
        tolerance: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vendor = (
            provider if isinstance(provider, VendorWebhooks) else get_vendor_webhooks(provider)
        )
        name = self.vendor.provider
        listed: Sequence[Secret] = (
            [secrets] if isinstance(secrets, str | BasicPair) else list(secrets)
        )
        if not listed:
            raise ConfigurationError(
                f"{name} webhooks need at least one secret", field="secrets", provider=name
            )
        for secret in listed:
            self.vendor.signature.check_secret(secret, name)
        if tolerance is not None and not tolerance >= 0:
            raise ConfigurationError(
                "tolerance must be a number of seconds, 0 or more",
                field="tolerance",
                provider=name,
            )
        if (
            isinstance(max_body_bytes, bool)
            or not isinstance(max_body_bytes, int)
            or (max_body_bytes < 1)
        ):
            raise ConfigurationError(
                "max_body_bytes must be a positive integer", field="max_body_bytes", provider=name
            )
        self._secrets = tuple(listed)
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self._clock = clock

    @property
    def provider(self) -> str:
        return self.vendor.provider

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        provider: str | None = None,
        tolerance: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> Webhooks:
        """The receiver for ``provider``, else ``PORTALKIT_PROVIDER``, with the secret from
        that vendor's webhook variables only (``STRIPE_WEBHOOK_SECRET``;
        ``CHARGEBEE_WEBHOOK_USERNAME`` and ``_PASSWORD``): a webhook worker needs no API
        credentials. A missing or malformed variable is a ``ConfigurationError`` naming it,
        never its value."""
        from ._registry import normalize_provider_name, provider_name_in

        environ = os.environ if environ is None else environ
        if provider is not None:
            name = normalize_provider_name(provider)
        else:
            name = provider_name_in(environ, available_webhook_providers())
        vendor = get_vendor_webhooks(name)
        secret = vendor.signature.secret_from_env(ProviderEnv(name, environ))
        return cls(
            vendor, [secret], tolerance=tolerance, max_body_bytes=max_body_bytes, clock=clock
        )

    def parse(
        self, headers: Mapping[str, str], body: bytes, *, now: float | None = None
    ) -> BillingEvent:
        """The verified, normalized event; ``WebhookRejected`` (answer 400) otherwise.

        ``headers``: the request's headers, any mapping (any case); ``body``: the raw bytes,
        read before any framework parses them."""
        return verify_delivery(
            self.vendor,
            headers,
            body,
            self._secrets,
            now=self._clock() if now is None else now,
            tolerance=self.tolerance,
            max_body_bytes=self.max_body_bytes,
        )

    def sign(
        self, body: bytes, *, timestamp: int | None = None, delivery_id: str | None = None
    ) -> dict[str, str]:
        """The headers the vendor would send with ``body``, signed with the first secret: for
        an app's own tests of its handler (like ``stripe.WebhookSignature``'s helper)."""
        return self.vendor.signature.sign(
            body,
            self._secrets[0],
            timestamp=int(self._clock()) if timestamp is None else timestamp,
            delivery_id=delivery_id,
        )

    def __repr__(self) -> str:  # the secrets stay out
        return f"Webhooks({self.provider!r}, {len(self._secrets)} secret(s))"


def available_webhook_providers() -> list[str]:
    """The names of the vendors whose webhooks portalkit can receive, sorted."""
    from ._registry import entry_points

    return sorted({ep.name for ep in entry_points(group=WEBHOOKS_GROUP)})


def get_vendor_webhooks(name: str) -> VendorWebhooks:
    """The ``VendorWebhooks`` registered as ``name`` (``ConfigurationError`` when none, two
    differently, or it fails to import)."""
    from ._registry import entry_points, load_entry_point

    loaded = load_entry_point(name, entry_points(group=WEBHOOKS_GROUP), kind="webhook receiver")
    if not isinstance(loaded, VendorWebhooks):
        raise ConfigurationError(
            f"webhook receiver {name!r} is a {type(loaded).__name__}, not a VendorWebhooks",
            provider=name,
        )
    return loaded
