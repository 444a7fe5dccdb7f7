"""What a user needs to point an app at the sandbox: its URL, and per twin its routes,
credentials and customers (and, for a twin that sends webhooks, the variables that verify
them), as JSON (``GET /_sandbox``) and as text (``Sandbox.describe()``, which the ``portalkit
sandbox`` command prints); and what it serves, route by route (``GET /``, ``served``).

The credentials and webhook secrets are the sandbox's own fixed, fake ones: showing them is
the point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._store import Store
from .twin import KeyKind, Twin

_KEY_LABELS: tuple[tuple[KeyKind, str], ...] = (
    ("valid", "key"),
    ("wrong", "wrong key (401)"),
    ("no_scope", "no-scope key (403)"),
)


def routes_of(twin: Twin) -> str:
    return ", ".join(str(route) for route in twin.routes)


def overview(twins: Sequence[Twin], store: Store, url: str | None) -> dict[str, Any]:
    return {
        "url": url,
        "vendors": {
            twin.name: {
                "title": twin.title,
                "description": twin.description,
                "route": routes_of(twin),
                "routes": [str(route) for route in twin.routes],
                "base_url": None if url is None else url + twin.base_path,
                "credentials": {kind: dict(twin.credentials[kind]) for kind, _ in _KEY_LABELS},
                "customers": {
                    cid: store.subscriptions(twin.name, cid) for cid in store.customers(twin.name)
                },
                "pending_faults": [f.to_json() for f in store.pending_faults(twin.name)],
                "webhooks": None if twin.webhooks is None else webhook_env(twin),
            }
            for twin in twins
        },
    }


def webhook_env(twin: Twin) -> dict[str, str]:
    """The variables ``portalkit.Webhooks.from_env`` needs to verify the twin's deliveries."""
    if twin.webhooks is None:
        raise ValueError(f"{twin.name}: the twin sends no webhooks (Twin.webhooks is None)")
    return {"PORTALKIT_PROVIDER": twin.name, **twin.webhooks.env}


def describe(twins: Sequence[Twin], store: Store, url: str | None) -> str:
    lines = [
        f"portalkit sandbox at {url}" if url else "portalkit sandbox (not serving)",
        "Fake vendors for tests and demos; the keys below work only here.",
    ]
    for twin in twins:
        lines += ["", f"{twin.name}  {routes_of(twin)}", f"  {twin.description}"]
        if twin.base_path and url:
            lines.append(f"  {'base url:':<20}{url}{twin.base_path}")
        for kind, label in _KEY_LABELS:
            shown = "  ".join(f"{k}={v}" for k, v in twin.credentials[kind].items())
            lines.append(f"  {label + ':':<20}{shown}")
        if twin.webhooks is not None:
            shown = "  ".join(f"{k}={v}" for k, v in twin.webhooks.env.items())
            lines.append(f"  {'webhooks:':<20}{shown}")
        for cid in store.customers(twin.name):
            subs = store.subscriptions(twin.name, cid)
            lines.append(
                f"  customer {cid}" + (f"  subscriptions {', '.join(subs)}" if subs else "")
            )
    if url:
        lines += [
            "",
            f"Control endpoints: {url}/_sandbox (see docs/sandbox.md)",
            f"Everything it serves, per vendor: {url}/",
        ]
    return "\n".join(lines)


def served(
    twins: Sequence[Twin],
    url: str,
    *,
    control: Sequence[str],
    webhook_control: Sequence[str],
    pages: Sequence[str],
) -> dict[str, Any]:
    """What ``GET /`` answers: everything the sandbox serves, per vendor -- its API's base
    URL and routes, its portal pages, its control and webhook control endpoints -- and the
    endpoints shared by all. Each route is ``"METHOD /path"``, as the app serves it (the
    lists come from the app's own routes, so they cannot drift from it); ``{vendor}`` in a
    control endpoint is filled in per vendor."""
    vendor_slot = "{vendor}"
    return {
        "service": "portalkit sandbox",
        "url": url,
        "about": "Fake billing vendors for tests and demos; the keys work only here."
        " Credentials, customers and pending faults: GET /_sandbox. See docs/sandbox.md.",
        "control": [route for route in control if vendor_slot not in route],
        "shared_pages": [
            route
            for route in pages
            if not any(_path(route).startswith(f"/{twin.name}/") for twin in twins)
        ],
        "vendors": {
            twin.name: {
                "title": twin.title,
                "api_base_url": url + twin.base_path,
                "api": [str(route) for route in twin.routes],
                "portal_pages": [
                    route for route in pages if _path(route).startswith(f"/{twin.name}/")
                ],
                "control": [
                    route.replace(vendor_slot, twin.name)
                    for route in control
                    if vendor_slot in route
                ],
                "webhook_control": (
                    []
                    if twin.webhooks is None
                    else [route.replace(vendor_slot, twin.name) for route in webhook_control]
                ),
            }
            for twin in twins
        },
    }


def _path(route: str) -> str:
    return route.partition(" ")[2]
