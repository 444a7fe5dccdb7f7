"""The webhook tables in the docs, generated from what each vendor's webhook module declares.

Each vendor's page (docs/providers/<name>.md) gets its event table -- vendor event, when,
``EventType`` -- and the overview in docs/webhooks.md gets one row per vendor: its variables
and how its deliveries are authenticated. ``scripts/gen_capabilities.py`` writes them with
the capability tables; tests/test_capability_docs.py fails when a page and the code disagree.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ._env import ProviderEnv
from ._webhooks import WEBHOOKS_GROUP, VendorWebhooks

#: The generated block in docs/webhooks.md.
OVERVIEW = "webhooks-overview"


def block_name(provider: str) -> str:
    """The generated block of ``provider``'s event table on its page."""
    return f"webhooks-{provider}"


def builtin_vendor_webhooks() -> dict[str, VendorWebhooks]:
    """The webhook declarations of the vendors portalkit ships, by registered name (plug-ins
    installed beside portalkit are not part of its docs)."""
    found: dict[str, VendorWebhooks] = {}
    for entry_point in entry_points(group=WEBHOOKS_GROUP):
        if entry_point.value.startswith("portalkit.providers."):
            found[entry_point.name] = entry_point.load()
    return dict(sorted(found.items()))


def variables(vendor: VendorWebhooks) -> list[str]:
    env = ProviderEnv(vendor.provider, {})
    return [env.variable(field) for field in vendor.signature.fields]


def render_events(vendor: VendorWebhooks) -> str:
    """A vendor's event table, and how its deliveries are checked."""
    names = ", ".join(f"`{name}`" for name in variables(vendor))
    lines = [
        f"Variables: {names}. Checked: {vendor.signature.describe()}.",
        "",
        "| Vendor event | When | `EventType` |",
        "| --- | --- | --- |",
    ]
    for row in vendor.events:
        lines.append(f"| `{row.vendor_type}` | {row.when or 'always'} | `{row.type.name}` |")
    lines.append("| any other event | | `UNKNOWN` (kept in `raw`, never an error) |")
    return "\n".join(lines) + "\n"


def render_overview(vendors: dict[str, VendorWebhooks]) -> str:
    """One row per vendor: its variables, and how a delivery is authenticated."""
    lines = ["| Vendor | Variables | How a delivery is checked |", "| --- | --- | --- |"]
    for name, vendor in vendors.items():
        names = ", ".join(f"`{variable}`" for variable in variables(vendor))
        link = f"[{name}](providers/{name}.md#webhooks)"
        lines.append(f"| {link} | {names} | {vendor.signature.describe()} |")
    return "\n".join(lines) + "\n"
