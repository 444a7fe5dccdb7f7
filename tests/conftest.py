"""Shared test configuration: the cassette machinery of tests/_cassettes.py, wired into
pytest-recording for the modules that set ``VENDOR`` (each vendor's ``tests/test_<vendor>.py``,
which also declares the ids its cassettes hold, ``CASSETTE_IDS``). Other modules are
untouched by it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from _cassettes import CASSETTES, Ids, Recording, json_body, recording_for
from _log_scan_plugin import LogScanPlugin


def pytest_configure(config: pytest.Config) -> None:
    # Everything portalkit logs, at every level, for the whole run, scanned for credentials
    # (see _log_scan.py and _log_scan_plugin.py).
    config.pluginmanager.register(LogScanPlugin(), "portalkit-log-scan")
    config.addinivalue_line(
        "markers",
        "sandbox_only: a cassette test that needs the sandbox (fault injection); a live"
        " recording replays its sandbox cassette instead",
    )
    config.addinivalue_line(
        "markers",
        "live_needs(*variables): a cassette test recorded live only when these environment"
        " variables are set; otherwise a live recording replays its sandbox cassette",
    )


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("json_body", json_body)


@pytest.fixture(scope="session")
def _cassette_sandbox() -> Iterator[Callable[[], Any]]:
    """The sandbox server for recording, started on first use: a replaying run never
    imports it, let alone starts it."""
    started: list[Any] = []
    with ExitStack() as stack:

        def get() -> Any:
            if not started:
                from portalkit.sandbox import Sandbox

                sandbox = Sandbox()
                stack.enter_context(sandbox.serve(host="127.0.0.1", port=0))
                started.append(sandbox)
            return started[0]

        yield get


@pytest.fixture
def recording(request: pytest.FixtureRequest, _cassette_sandbox: Callable[[], Any]) -> Recording:
    """Where this cassette test's exchanges come from: replay, the sandbox, or the vendor."""
    vendor = getattr(request.module, "VENDOR", None)
    if vendor is None:
        raise pytest.UsageError(f"{request.module.__name__} sets no VENDOR for its cassettes")
    canonical = getattr(request.module, "CASSETTE_IDS", None)
    if not isinstance(canonical, Ids):
        raise pytest.UsageError(
            f"{request.module.__name__} sets no CASSETTE_IDS (an _cassettes.Ids) for its cassettes"
        )
    live_needs = request.node.get_closest_marker("live_needs")
    return recording_for(
        vendor,
        canonical,
        sandbox_only=request.node.get_closest_marker("sandbox_only") is not None,
        live_needs=tuple(live_needs.args) if live_needs else (),
        sandbox=_cassette_sandbox,
    )


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """pytest-recording's per-test configuration: the record mode and hooks of this test's
    Recording (modules without VENDOR use no cassettes)."""
    if getattr(request.module, "VENDOR", None) is None:
        return {}
    recording: Recording = request.getfixturevalue("recording")
    return recording.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """cassettes/<vendor>/ at the repository root, shared by the docs and the hygiene test."""
    return str(CASSETTES / getattr(request.module, "VENDOR", "unsorted"))
