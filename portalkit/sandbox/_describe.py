"""What a user needs to point an app at the sandbox: its URL, the credentials and the
customers, as JSON (``GET /_sandbox``) and as text (``Sandbox.describe()``, which the
``portalkit sandbox`` command prints).

The credentials are the sandbox's own fixed, fake keys: showing them is the point.
"""

from __future__ import annotations

from typing import Any

from ._seeds import CREDENTIALS, VENDORS, KeyKind
from ._store import Store

ROUTES = {
    "plugipay": "POST /v1/portal-sessions",
    "paylera": "POST /v1/portal/sessions",
    "paddle": "POST /customers/{customer_id}/portal-sessions",
}
_KEY_LABELS: tuple[tuple[KeyKind, str], ...] = (
    ("valid", "key"),
    ("wrong", "wrong key (401)"),
    ("no_scope", "no-scope key (403)"),
)


def overview(store: Store, url: str | None) -> dict[str, Any]:
    return {
        "url": url,
        "vendors": {
            vendor: {
                "route": ROUTES[vendor],
                "credentials": CREDENTIALS[vendor],
                "customers": {
                    cid: store.subscriptions(vendor, cid) for cid in store.customers(vendor)
                },
                "pending_faults": [f.to_json() for f in store.pending_faults(vendor)],
            }
            for vendor in VENDORS
        },
    }


def describe(store: Store, url: str | None) -> str:
    lines = [
        f"portalkit sandbox at {url}" if url else "portalkit sandbox (not serving)",
        "Fake vendors for tests and demos; the keys below work only here.",
    ]
    for vendor in VENDORS:
        creds = CREDENTIALS[vendor]
        lines += ["", f"{vendor}  {ROUTES[vendor]}"]
        for kind, label in _KEY_LABELS:
            shown = "  ".join(f"{k}={v}" for k, v in creds[kind].items())
            lines.append(f"  {label + ':':<20}{shown}")
        for cid in store.customers(vendor):
            subs = store.subscriptions(vendor, cid)
            lines.append(
                f"  customer {cid}" + (f"  subscriptions {', '.join(subs)}" if subs else "")
            )
    if url:
        lines += ["", f"Control endpoints: {url}/_sandbox (see docs/sandbox.md)"]
    return "\n".join(lines)
