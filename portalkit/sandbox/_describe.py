"""What a user needs to point an app at the sandbox: its URL, and per twin its routes,
credentials and customers, as JSON (``GET /_sandbox``) and as text (``Sandbox.describe()``,
which the ``portalkit sandbox`` command prints).

The credentials are the sandbox's own fixed, fake keys: showing them is the point.
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
            }
            for twin in twins
        },
    }


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
        for cid in store.customers(twin.name):
            subs = store.subscriptions(twin.name, cid)
            lines.append(
                f"  customer {cid}" + (f"  subscriptions {', '.join(subs)}" if subs else "")
            )
    if url:
        lines += ["", f"Control endpoints: {url}/_sandbox (see docs/sandbox.md)"]
    return "\n".join(lines)
