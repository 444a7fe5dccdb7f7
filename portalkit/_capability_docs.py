"""The capability tables in the docs, generated from what each adapter declares.

Each ``Feature`` gets one of three answers from each provider: honoured, dropped (a cosmetic
hint, listed in ``link.ignored_fields``; refused under ``strict=True``) or refused
(``UnsupportedFeature``, before anything is sent). ``scripts/gen_capabilities.py`` writes
the full matrix into docs/capabilities.md and each vendor's own list into
docs/providers/<name>.md, between generated-block markers, with the webhook tables of
``_webhook_docs`` (each vendor's event table, and the overview in docs/webhooks.md);
tests/test_capability_docs.py fails when a page and the code disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

from ._capabilities import COSMETIC_FEATURES
from ._features import FEATURES
from ._models import Feature
from ._registry import ENTRY_POINT_GROUP
from ._webhook_docs import (
    OVERVIEW,
    block_name,
    builtin_vendor_webhooks,
    render_events,
    render_overview,
)

MATRIX = "matrix"


def markers(block: str) -> tuple[str, str]:
    """The comment lines around generated block ``block`` (``matrix`` or a provider name)."""
    return (
        f"<!-- generated:{block}:begin (scripts/gen_capabilities.py; do not edit) -->",
        f"<!-- generated:{block}:end -->",
    )


#: The request field that asks for each feature, and what it does (from the one table).
FEATURE_DOCS: dict[Feature, tuple[str, str]] = {
    spec.feature: (spec.field, spec.meaning) for spec in FEATURES
}

SUPPORTED = "yes"
DROPPED = "dropped"
REFUSED = "refused"


def builtin_provider_features() -> dict[str, frozenset[Feature]]:
    """The declared features of the adapters portalkit ships (``portalkit.providers.*``), by
    registered name. Plug-ins installed beside portalkit are not part of its docs."""
    found: dict[str, frozenset[Feature]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.value.startswith("portalkit.providers."):
            found[entry_point.name] = frozenset(entry_point.load().features)
    return dict(sorted(found.items()))


def cell(feature: Feature, features: frozenset[Feature]) -> str:
    if feature in features:
        return SUPPORTED
    return DROPPED if feature in COSMETIC_FEATURES else REFUSED


def render_matrix(providers: Mapping[str, frozenset[Feature]]) -> str:
    """The Markdown table: one row per Feature, one column per provider."""
    missing = set(Feature) - set(FEATURE_DOCS)
    if missing:
        raise ValueError(f"FEATURE_DOCS has no entry for {sorted(missing)}")
    names = list(providers)
    lines = [
        "| `PortalRequest` field | Asks for | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for feature in Feature:
        field, meaning = FEATURE_DOCS[feature]
        cells = [cell(feature, providers[name]) for name in names]
        what = f"{meaning} (`Feature.{feature.name}`)"
        lines.append(f"| `{field}` | {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_provider(name: str, features: frozenset[Feature]) -> str:
    """One provider's capabilities, as a list of the request fields in each answer."""
    answers: dict[str, list[str]] = {SUPPORTED: [], DROPPED: [], REFUSED: []}
    for feature in Feature:
        field = FEATURE_DOCS[feature][0].replace("[name]", f'["{name}"]')
        answers[cell(feature, features)].append(f"`{field}`")
    lines = [
        f"- **Honoured:** {', '.join(answers[SUPPORTED]) or 'nothing optional'}.",
        f"- **Dropped** and listed in `link.ignored_fields` (refused with `strict=True`):"
        f" {', '.join(answers[DROPPED]) or 'nothing'}.",
        f"- **Refused** with `UnsupportedFeature` before anything is sent:"
        f" {', '.join(answers[REFUSED]) or 'nothing'}.",
    ]
    return "\n".join(lines) + "\n"


def with_block(page: str, block: str, text: str) -> str:
    """``page`` with generated block ``block`` replaced by ``text``."""
    begin, end = markers(block)
    start = page.find(begin)
    stop = page.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"the page needs the markers {begin!r} and {end!r}, in that order")
    return page[: start + len(begin)] + "\n\n" + text + "\n" + page[stop:]


def generated_pages(docs: Path) -> dict[Path, str]:
    """Each docs page with generated blocks, and the text it should have now."""
    providers = builtin_provider_features()
    matrix_page = docs / "capabilities.md"
    pages = {matrix_page: with_block(_read(matrix_page), MATRIX, render_matrix(providers))}
    for name, features in providers.items():
        page = docs / "providers" / f"{name}.md"
        pages[page] = with_block(_read(page), name, render_provider(name, features))
    webhooks = builtin_vendor_webhooks()
    for name, vendor in webhooks.items():
        page = docs / "providers" / f"{name}.md"
        text = pages.get(page, _read(page))
        pages[page] = with_block(text, block_name(name), render_events(vendor))
    overview = docs / "webhooks.md"
    pages[overview] = with_block(_read(overview), OVERVIEW, render_overview(webhooks))
    return pages


def _read(page: Path) -> str:
    return page.read_text(encoding="utf-8") if page.exists() else ""
