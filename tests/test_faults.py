"""The fault matrix: every fault in ``tests/_fault_matrix.py`` x every vendor x sync/async,
against a real server on 127.0.0.1 (the sandbox, a raw socket server in front of it, or a
port that refuses connections).

For each run: a link when the server recovers inside the retry budget, otherwise the
scenario's ``PortalError`` subclass carrying its status and request id; the number of
attempts portalkit made (bounded by the deadline where the deadline is what stops it); the
same idempotency key on every attempt; and no second session at a vendor that
deduplicates. No timing is asserted: attempt counts show what stopped a call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _fault_matrix import DEDUPLICATING, MODES, SCENARIOS, VENDORS, Outcome, Scenario, run

from portalkit.sandbox import Sandbox


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Iterator[Sandbox]:
    served.reset()
    yield served
    served.reset()  # releases requests still hanging on a fault


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_fault(sandbox: Sandbox, scenario: str, vendor: str, mode: str) -> None:
    case = SCENARIOS[scenario]
    outcome = run(sandbox, case, vendor, mode)
    check_result(case, vendor, outcome)
    check_attempts(case, outcome)
    check_idempotency(case, vendor, outcome)
    check_sessions(case, vendor, outcome)
    if case.also is not None:
        case.also(outcome)


def check_result(case: Scenario, vendor: str, outcome: Outcome) -> None:
    expected = case.expected(vendor)
    if expected is None:
        assert outcome.error is None, f"expected a link, got {outcome.error!r}"
        assert outcome.link is not None
        assert outcome.link.provider == vendor
        assert outcome.link.customer_id == outcome.request.customer_id
        return
    error = outcome.error
    assert outcome.link is None
    assert error is not None, f"expected {expected.__name__}, got a link"
    assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
    assert error.provider == vendor
    if case.status is not None and 200 <= case.status < 300:
        # A body portalkit cannot use, on a success status: the vendor's own (201 for
        # most, 200 for Stripe) when the fault disturbs the vendor's answer.
        assert 200 <= (error.status or 0) < 300, f"{error!r}: not a success status"
    else:
        assert error.status == case.status
    if case.request_id:
        assert error.request_id, f"{error!r} lacks the vendor's request id"
    if case.message is not None:
        assert case.message in str(error)
    if case.retry_after is not None:
        low, high = case.retry_after
        retry_after = getattr(error, "retry_after", None)
        assert retry_after is not None
        assert low <= retry_after <= high


def check_attempts(case: Scenario, outcome: Outcome) -> None:
    low, high = case.attempts
    assert low <= outcome.attempts <= high, f"{outcome.attempts} attempts, wanted {low}..{high}"
    if outcome.server_attempts is not None:
        # Every attempt portalkit logged reached the server, and no other request did.
        assert outcome.server_attempts == outcome.attempts


def check_idempotency(case: Scenario, vendor: str, outcome: Outcome) -> None:
    keys = outcome.idempotency_keys
    if not keys:  # nothing listened (connection refused): nothing to observe
        assert case.refused
        return
    if vendor in DEDUPLICATING:
        assert keys[0], "a create went out without an idempotency key"
        assert set(keys) == {keys[0]}, "attempts carried different idempotency keys"
        if outcome.link is not None:
            assert outcome.link.idempotency_key == keys[0]
    else:
        # Paddle has no idempotency keys; a retry may mint a second session (harmless: a
        # portal session grants nothing but a fresh short-lived link).
        assert set(keys) == {None}


def check_sessions(case: Scenario, vendor: str, outcome: Outcome) -> None:
    if case.faulted_attempts_mint is None:
        return
    succeeded = outcome.link is not None
    faulted = outcome.attempts - (1 if succeeded else 0)
    minted = (faulted if case.faulted_attempts_mint else 0) + (1 if succeeded else 0)
    expected = min(minted, 1) if vendor in DEDUPLICATING else minted
    sessions = outcome.sessions
    assert len(sessions) == expected, f"{len(sessions)} sessions minted, wanted {expected}"
    if outcome.link is not None:
        # By the URL the sandbox issued: a vendor that mints nothing (a link read from a
        # resource) names the resource in session_id, not a session.
        assert outcome.link.url in {session.url for session in sessions}
        if vendor in DEDUPLICATING:
            assert sessions[0].id == outcome.link.session_id


def test_reliability_doc_names_every_scenario() -> None:
    """docs/reliability.md has one row per scenario, naming its test, and no stale row; each
    row is the scenario's own words (``fault``, ``does``) and its expectations, stated once
    for every vendor: where vendors differ, the row names the feature that decides it."""
    doc = (Path(__file__).parent.parent / "docs" / "reliability.md").read_text()
    named = re.findall(r"test_fault\[([a-z0-9-]+)-<vendor>-\{sync,async\}\]", doc)
    assert sorted(named) == sorted(SCENARIOS)
    rows = {
        match.group(1): line
        for line in doc.splitlines()
        if (match := re.search(r"test_fault\[([a-z0-9-]+)-<vendor>-\{sync,async\}\]", line))
    }
    for scenario in SCENARIOS.values():
        cells = [cell.strip() for cell in rows[scenario.id].strip().strip("|").split(" | ")]
        assert len(cells) == 6, (scenario.id, cells)
        fault, does, outcome, attempts, sessions, _ = cells
        assert fault == scenario.fault, scenario.id
        assert does == scenario.does, scenario.id
        # The outcome column names every class a vendor's caller may see, or a link.
        for vendor in VENDORS:
            expected = scenario.expected(vendor)
            word = "link" if expected is None else f"`{expected.__name__}`"
            assert word in outcome, (scenario.id, vendor, outcome)
        low, high = scenario.attempts
        assert attempts == (str(low) if low == high else f"{low}\u2013{high}"), scenario.id
        assert sessions == _sessions_cell(scenario), (scenario.id, sessions)
    # "<vendor>" is every vendor the sandbox serves: the matrix runs for each of them.
    assert "every vendor with a sandbox twin" in doc
    assert set(VENDORS) == set(Sandbox().vendors)
    assert set(MODES) == {"sync", "async"}


def _sessions_cell(case: Scenario) -> str:
    """What the "Sessions minted" column must say: ``check_sessions``'s count, once for a
    vendor that honours idempotency keys and once for one without, merged when equal."""
    if case.faulted_attempts_mint is None:
        return "not counted (timing decides)"
    succeeded = case.expect is None and case.expect_for is None
    counts = set()
    for attempts in set(case.attempts):
        faulted = attempts - (1 if succeeded else 0)
        counts.add((faulted if case.faulted_attempts_mint else 0) + (1 if succeeded else 0))
    assert len(counts) == 1, f"{case.id}: the count depends on the attempts made"
    (minted,) = counts
    with_keys, without = min(minted, 1), minted
    if with_keys == without:
        return str(minted)
    return (
        f"with `Feature.IDEMPOTENCY_KEY`: {with_keys} (the retry gets the same session back); "
        f"without: {without}"
    )
