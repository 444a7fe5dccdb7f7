"""Every registered vendor's webhook cases, as the shared webhook tests read them.

A vendor's cases are JSON files in ``tests/webhook_events/<vendor>/``, each one delivery
taken from the vendor's own examples (its docs, its SDK's test fixtures), named by what it
shows::

    {
      "source": "where the payload was read (a docs page, an SDK fixture's path)",
      "payload": {... the event, exactly as the vendor sends it ...},
      "headers": {"X-Event-Name": "..."},      # optional: unsigned headers the vendor sends
      "delivery_id": "msg_...",                # optional: for a scheme that signs an id
      "expect": {"id": "...", "type": "subscription_cancel_scheduled", "vendor_type": "...",
                 "occurred_at": "...", "customer_id": "...", "subscription_id": "...",
                 "ends_at": null, "resource_version": null}
    }

``expect`` holds the ``BillingEvent.summary()`` fields the case checks (all of them, as a
rule). Nothing here names a vendor: a vendor's cases are found by its registered name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from portalkit import ProviderEnv, Webhooks, available_webhook_providers, get_vendor_webhooks

CASES_DIR = Path(__file__).parent / "webhook_events"
WEBHOOK_VENDORS = tuple(available_webhook_providers())
#: The clock every case is signed and checked at.
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


@attrs.frozen
class Case:
    vendor: str
    name: str
    source: str
    payload: Mapping[str, Any]
    headers: Mapping[str, str]
    delivery_id: str | None
    expect: Mapping[str, Any]

    @property
    def body(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":")).encode()


def cases(vendor: str) -> list[Case]:
    found = []
    for path in sorted((CASES_DIR / vendor).glob("*.json")):
        data = json.loads(path.read_text())
        found.append(
            Case(
                vendor=vendor,
                name=path.stem,
                source=data["source"],
                payload=data["payload"],
                headers=data.get("headers", {}),
                delivery_id=data.get("delivery_id"),
                expect=data["expect"],
            )
        )
    return found


def all_cases() -> Iterator[Case]:
    for vendor in WEBHOOK_VENDORS:
        yield from cases(vendor)


def made_up_env(vendor: str, suffix: str = "") -> dict[str, str]:
    """Made-up values for every webhook variable the vendor reads (``suffix`` makes another
    set: a wrong secret, or the next one in a rotation)."""
    env = ProviderEnv(vendor, {})
    fields = get_vendor_webhooks(vendor).signature.fields
    return {env.variable(field): f"test_{field}_{vendor}{suffix}_8f3k2" for field in fields}


def hooks(vendor: str, suffix: str = "", **options: Any) -> Webhooks:
    return Webhooks.from_env(made_up_env(vendor, suffix), provider=vendor, **options)


def signed_headers(
    case: Case, *, timestamp: int = NOW, suffix: str = "", body: bytes | None = None
) -> dict[str, str]:
    """The headers the vendor sends with the case: its unsigned ones, and the signature over
    ``body`` (the case's own by default) with the secret of ``suffix``."""
    signer = hooks(case.vendor, suffix)
    signed = signer.sign(
        case.body if body is None else body, timestamp=timestamp, delivery_id=case.delivery_id
    )
    return {**case.headers, **signed}
