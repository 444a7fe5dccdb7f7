"""Every vendor's example deliveries read into the one vocabulary, and every row of every
vendor's event table (the one its docs page shows) proven by at least one of them.

The cases are the vendors' own example payloads (tests/webhook_events/<vendor>/, see
_webhook_cases.py); this module names no vendor.
"""

from __future__ import annotations

import pytest
from _webhook_cases import NOW, WEBHOOK_VENDORS, Case, all_cases, cases, hooks, signed_headers

from portalkit import EventType, get_vendor_webhooks

CASES = list(all_cases())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.vendor}-{c.name}")
def test_case_reads_as_expected(case: Case) -> None:
    event = hooks(case.vendor).parse(signed_headers(case), case.body, now=NOW)
    summary = event.summary()
    assert {key: summary[key] for key in case.expect} == dict(case.expect)
    assert event.provider == case.vendor
    assert event.raw == case.payload
    assert event.occurred_at.tzinfo is not None
    assert case.source.strip(), "each case says where its payload was read"


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_every_table_row_has_a_case(vendor: str) -> None:
    seen = set()
    for case in cases(vendor):
        event = hooks(vendor).parse(signed_headers(case), case.body, now=NOW)
        seen.add((event.vendor_type, event.type))
    table = get_vendor_webhooks(vendor).events
    assert table, f"{vendor} declares no event table"
    missing = [row for row in table if (row.vendor_type, row.type) not in seen]
    assert not missing, f"rows of {vendor}'s table no case proves: {missing}"


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_an_event_outside_the_table_is_unknown_and_kept(vendor: str) -> None:
    found = [c for c in cases(vendor) if c.expect.get("type") == EventType.UNKNOWN.value]
    assert found, f"{vendor} needs a case of an event its table does not map"
    for case in found:
        event = hooks(vendor).parse(signed_headers(case), case.body, now=NOW)
        assert event.type is EventType.UNKNOWN
        assert event.vendor_type, "the vendor's own name is kept"
        assert not get_vendor_webhooks(vendor).mapping_for(event.vendor_type) or all(
            row.when for row in get_vendor_webhooks(vendor).mapping_for(event.vendor_type)
        )


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_table_rows_are_unique_and_conditions_said(vendor: str) -> None:
    table = get_vendor_webhooks(vendor).events
    keys = [(row.vendor_type, row.type, row.when) for row in table]
    assert len(keys) == len(set(keys))
    for vendor_type in {row.vendor_type for row in table}:
        rows = [row for row in table if row.vendor_type == vendor_type]
        if len(rows) > 1:
            # One vendor event meaning several types: each row says when.
            assert all(row.when for row in rows), (vendor, vendor_type)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_cancel_scheduled_events_carry_ends_at(vendor: str) -> None:
    for case in cases(vendor):
        event = hooks(vendor).parse(signed_headers(case), case.body, now=NOW)
        if event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
            assert event.ends_at is not None, case.name
