"""The capability tables in the docs are the ones the adapters declare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import portalkit
from portalkit import Feature, PortalRequest, errors
from portalkit._capabilities import apply_feature_policy
from portalkit._capability_docs import (
    DROPPED,
    FEATURE_DOCS,
    MATRIX,
    REFUSED,
    SUPPORTED,
    builtin_provider_features,
    generated_pages,
    markers,
    render_matrix,
    render_provider,
    with_block,
)
from portalkit.providers.chargebee import Chargebee
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay
from portalkit.providers.polar import Polar
from portalkit.providers.stripe import Stripe

ROOT = Path(__file__).resolve().parent.parent
#: The vendors these tests use as examples (each registry-wide check covers every vendor).
BUILTIN = ("paddle", "paylera", "plugipay")
DOCS = ROOT / "docs"


def test_the_docs_pages_match_the_adapters() -> None:
    pages = generated_pages(DOCS)
    # The matrix, and each shipped vendor's own page (a new vendor's docs/providers/<vendor>.md).
    assert set(pages) == {
        DOCS / "capabilities.md",
        DOCS / "webhooks.md",  # the webhook overview (portalkit/_webhook_docs.py)
        *(DOCS / "providers" / f"{name}.md" for name in builtin_provider_features()),
    }
    assert {DOCS / "providers" / f"{name}.md" for name in BUILTIN} <= set(pages)
    for page, wanted in pages.items():
        assert page.read_text(encoding="utf-8") == wanted, (
            f"{page.relative_to(ROOT)} is out of date: run scripts/gen_capabilities.py"
        )


def test_the_script_check_mode_agrees() -> None:
    result = subprocess.run(  # noqa: S603 -- our own script, by absolute path
        [sys.executable, str(ROOT / "scripts" / "gen_capabilities.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_changed_declaration_is_drift() -> None:
    page = (DOCS / "capabilities.md").read_text(encoding="utf-8")
    declared = builtin_provider_features()
    declared["paddle"] = declared["paddle"] | {Feature.LOCALE}
    assert with_block(page, MATRIX, render_matrix(declared)) != page
    vendor_page = (DOCS / "providers" / "paddle.md").read_text(encoding="utf-8")
    assert with_block(vendor_page, "paddle", render_provider("paddle", declared["paddle"])) != (
        vendor_page
    )


def test_the_tables_are_read_from_the_adapter_classes() -> None:
    found = builtin_provider_features()
    assert set(found) == set(portalkit.available_providers())  # no plug-in installed here
    assert {name: found[name] for name in BUILTIN} == {
        "paddle": Paddle.features,
        "paylera": Paylera.features,
        "plugipay": Plugipay.features,
    }


def row(matrix: str, feature: Feature) -> list[str]:
    (line,) = [line for line in matrix.splitlines() if f"(`Feature.{feature.name}`)" in line]
    return [cell.strip() for cell in line.strip("|").split("|")][2:]


def test_cells_say_what_the_policy_does() -> None:
    # columns: chargebee, paddle, paylera, plugipay (the matrix of these four alone, so a
    # vendor added later does not shift the columns)
    matrix = render_matrix(
        {cls.name: cls.features for cls in (Chargebee, Paddle, Paylera, Plugipay)}
    )
    assert row(matrix, Feature.LOCALE) == [DROPPED, DROPPED, SUPPORTED, DROPPED]
    assert row(matrix, Feature.CONFIGURE_CANCEL_SUBSCRIPTION) == [
        REFUSED,
        REFUSED,
        SUPPORTED,
        REFUSED,
    ]
    assert row(matrix, Feature.SUBSCRIPTION_DEEP_LINKS) == [DROPPED, SUPPORTED, DROPPED, DROPPED]
    assert row(matrix, Feature.ON_BEHALF_OF) == [REFUSED, REFUSED, REFUSED, SUPPORTED]
    assert row(matrix, Feature.END_SESSION) == [SUPPORTED, REFUSED, REFUSED, REFUSED]


def test_cells_for_the_stripe_features() -> None:
    # columns: paddle, paylera, plugipay, stripe
    matrix = render_matrix({cls.name: cls.features for cls in (Paddle, Paylera, Plugipay, Stripe)})
    assert row(matrix, Feature.LOCALE) == [DROPPED, SUPPORTED, DROPPED, SUPPORTED]
    assert row(matrix, Feature.CONFIGURE_CANCEL_SUBSCRIPTION) == [
        REFUSED,
        SUPPORTED,
        REFUSED,
        SUPPORTED,
    ]
    assert row(matrix, Feature.SUBSCRIPTION_DEEP_LINKS) == [SUPPORTED, DROPPED, DROPPED, DROPPED]
    assert row(matrix, Feature.ON_BEHALF_OF) == [REFUSED, REFUSED, SUPPORTED, SUPPORTED]
    assert row(matrix, Feature.FLOW_AFTER_COMPLETION) == [DROPPED, DROPPED, DROPPED, SUPPORTED]
    assert row(matrix, Feature.FLOW_ITEMS) == [REFUSED, REFUSED, REFUSED, SUPPORTED]
    assert row(matrix, Feature.FLOW_RETENTION_OFFER) == [REFUSED, REFUSED, REFUSED, SUPPORTED]


def test_cells_for_the_polar_features() -> None:
    # columns: paddle, paylera, plugipay, polar
    matrix = render_matrix({cls.name: cls.features for cls in (Paddle, Paylera, Plugipay, Polar)})
    assert row(matrix, Feature.LOCALE) == [DROPPED, SUPPORTED, DROPPED, DROPPED]
    assert row(matrix, Feature.CONFIGURE_CANCEL_SUBSCRIPTION) == [
        REFUSED,
        SUPPORTED,
        REFUSED,
        REFUSED,
    ]
    assert row(matrix, Feature.SUBSCRIPTION_DEEP_LINKS) == [SUPPORTED, DROPPED, DROPPED, DROPPED]
    assert row(matrix, Feature.ON_BEHALF_OF) == [REFUSED, REFUSED, SUPPORTED, REFUSED]
    assert row(matrix, Feature.EXTERNAL_CUSTOMER_ID) == [REFUSED, REFUSED, REFUSED, SUPPORTED]


def test_a_vendor_page_lists_each_field_under_its_answer() -> None:
    text = render_provider("paylera", Paylera.features)
    honoured, dropped, refused = text.splitlines()
    assert "`locale`" in honoured
    assert '`provider_options["paylera"]`' in honoured
    assert "`subscription_ids`" in dropped
    assert "`configuration.view_invoices`" in refused


@pytest.mark.parametrize("provider", [Paddle(api_key="k"), Paylera(api_key="k")])
def test_dropped_and_refused_cells_match_the_running_policy(
    provider: Paddle | Paylera,
) -> None:
    """What the page says for a feature is what Portal does with a request asking for it."""
    matrix = render_matrix({provider.name: provider.features})
    asks = {
        Feature.LOCALE: PortalRequest("cus_1", locale="fr"),
        Feature.ON_BEHALF_OF: PortalRequest("cus_1", on_behalf_of="acc_1"),
        Feature.SUBSCRIPTION_DEEP_LINKS: PortalRequest("cus_1", subscription_ids=["sub_1"]),
    }
    for feature, request in asks.items():
        (said,) = row(matrix, feature)
        if said == REFUSED:
            with pytest.raises(errors.UnsupportedFeature):
                apply_feature_policy(provider, request, strict=False)
        else:
            _, ignored = apply_feature_policy(provider, request, strict=False)
            assert bool(ignored) == (said == DROPPED)


def test_every_feature_is_documented() -> None:
    assert set(FEATURE_DOCS) == set(Feature)


def test_markers_are_required() -> None:
    with pytest.raises(ValueError, match="markers"):
        with_block("no markers here", MATRIX, "| table |\n")
    begin, end = markers(MATRIX)
    assert with_block(f"a\n{begin}\nold\n{end}\nb", MATRIX, "new\n") == (
        f"a\n{begin}\n\nnew\n\n{end}\nb"
    )
