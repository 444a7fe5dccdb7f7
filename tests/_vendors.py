"""What the shared tests know about a registered vendor, derived from the registry: its twin
(``portalkit.sandbox`` entry point: seeded customers, credentials, environment) and its
adapter (``portalkit.providers`` entry point: ``features``). No vendor is named here, so a
registry-parametrized test runs for a new vendor with no edit of this file.

What cannot be derived -- the fixed ids a vendor's cassettes were recorded with -- is
declared in the vendor's own test module, ``tests/test_<vendor>.py`` (``VENDOR`` and
``CASSETTE_IDS``), next to the cassette tests that use it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from portalkit import Feature, PortalProvider, available_twins, get_provider_factory
from portalkit.sandbox import Sandbox, Twin, load_twins

VENDORS = tuple(available_twins())  # the registry: the portalkit.sandbox entry points


@functools.cache
def _twins() -> dict[str, Twin]:
    return {twin.name: twin for twin in load_twins()}


def twin(vendor: str) -> Twin:
    return _twins()[vendor]


def seeded_customer(vendor: str) -> str:
    """The twin's first seeded customer: a well-formed id for the vendor (by convention the
    one with two subscriptions)."""
    return next(iter(twin(vendor).customers))


def adapter(
    vendor: str,
    *,
    credentials: Mapping[str, str] | None = None,
    base_url: str | None = None,
    **options: Any,
) -> PortalProvider:
    """The vendor's adapter, built through the registry with the twin's ``valid``
    credentials (or ``credentials``: the same fields, other values) and environment. The
    adapter's constructor takes its ``from_env`` fields as keyword arguments (the convention
    ``Twin.credentials`` relies on); ``base_url`` defaults to the adapter's own."""
    found = twin(vendor)
    fields: dict[str, Any] = {**found.credentials["valid"], **found.environment}
    if credentials is not None:
        assert set(credentials) == set(found.credentials["valid"]), "not the twin's fields"
        fields.update(credentials)
    if base_url is not None:
        fields["base_url"] = base_url
    factory: Any = get_provider_factory(vendor)
    provider: PortalProvider = factory(**fields, **options)
    return provider


def portal_customer(sandbox: Sandbox, vendor: str) -> str:
    """A fresh customer who can be given a portal link. Some vendors sign a portal link only
    for a customer with a subscription (Lemon Squeezy: ``customer_portal`` is null until the
    customer subscribes), so every vendor's fresh customer gets one."""
    customer = sandbox.add_customer(vendor)
    sandbox.add_subscription(vendor, customer)
    return customer


def features(vendor: str) -> frozenset[Feature]:
    return frozenset(adapter(vendor).features)


def supports(vendor: str, feature: Feature) -> bool:
    return feature in features(vendor)


def deduplicates(vendor: str) -> bool:
    """Does the vendor honour an idempotency key (a retried create gets the session already
    minted)? What its adapter declares: it sends the key only where the vendor honours it."""
    return supports(vendor, Feature.IDEMPOTENCY_KEY)
