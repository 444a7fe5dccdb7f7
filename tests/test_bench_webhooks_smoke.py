"""``python -m bench.webhooks`` with tiny counts: every registered vendor gets its rows and
the docs block is written between its markers. Shape only, never a timing."""

from __future__ import annotations

import re
from pathlib import Path

from bench import webhooks
from portalkit import available_webhook_providers


def test_every_vendor_has_its_rows_and_the_block_is_written(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"before\n{webhooks.BEGIN}\nSTALE-BLOCK\n{webhooks.END}\nafter\n")
    assert webhooks.main(["--quick", "--output", str(page)]) == 0
    text = page.read_text()
    assert "STALE-BLOCK" not in text
    assert text.startswith("before\n")
    assert text.endswith("after\n")
    for vendor in available_webhook_providers():
        rows = re.findall(rf"^\| {vendor} \| (verify|parse) \| (\d+\.\d) \|", text, re.M)
        assert [figure for figure, _ in rows] == ["verify", "parse"], vendor
    # The three vendors with an SDK verifier are compared against it.
    for vendor in ("stripe", "paddle", "polar"):
        assert re.search(rf"^\| {vendor} \| verify \| [\d.]+ \| [\d.]+ \| [\d.]+ ", text, re.M)
