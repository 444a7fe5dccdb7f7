"""docs/sandbox.md's "Webhooks" section is true: its Python snippets run as printed, in order
(as a reader pastes them), against every registered twin that sends webhooks -- their own
asserts are the checks -- and it names every delivery fault and every webhook method of
``Sandbox``."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from portalkit.sandbox import DeliveryFault, Sandbox
from portalkit.sandbox._delivery_faults import KINDS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "sandbox.md"
SECTION = PAGE.read_text(encoding="utf-8").split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


@pytest.fixture(scope="module")
def namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "docs_sandbox_webhooks"}
    with contextlib.redirect_stdout(io.StringIO()):
        for number, block in enumerate(BLOCKS):
            exec(compile(block, f"docs/sandbox.md#webhooks-{number}", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_snippets_run_for_every_twin_that_sends_webhooks(namespace: dict[str, Any]) -> None:
    assert len(BLOCKS) == 2
    vendors = namespace["vendors"]
    assert len(vendors) >= 1
    assert vendors == [v for v in Sandbox().vendors if Sandbox().twin(v).webhooks]
    # The duplicate snippet's handler ran once per vendor; the ordering one kept the end.
    assert [vendor for vendor, _ in namespace["cancellations"]] == vendors
    assert {vendor for vendor, _ in namespace["latest"]} == set(vendors)


def test_the_section_names_every_fault_and_method() -> None:
    for kind in KINDS:
        assert f"DeliveryFault.{kind}(" in SECTION, kind
    assert {f.kind for f in (DeliveryFault.duplicate(), DeliveryFault.late())} <= set(KINDS)
    methods = [
        "webhook_env",
        "add_webhook_endpoint",
        "remove_webhook_endpoint",
        "webhook_endpoints",
        "trigger",
        "subscription",
        "script_deliveries",
        "deliveries",
        "wait_for_deliveries",
    ]
    for method in methods:
        assert callable(getattr(Sandbox, method))
        assert f"sandbox.{method}(" in SECTION, method
