"""The log scan (``_log_scan.SecretScan``) wired into a pytest run, serial or under xdist.

One handler on the ``portalkit`` logger at DEBUG for the whole run. A test during which a
credential was logged fails at its teardown, naming the logger and the pattern (never the
record itself, which holds the credential). Under pytest-xdist each worker scans its own
tests and hands its counts to the controller, so the summary line and a leak logged outside
any test (a session fixture, a server thread after its test ended) fail the run there too:
a worker's own exit status is not what decides the controller's.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

import pytest
from _log_scan import SecretScan

#: The key of a worker's counts in xdist's ``workeroutput``.
WORKER_OUTPUT = "portalkit_log_scan"


class LogScanPlugin:
    def __init__(self) -> None:
        self.scan = SecretScan()

    def pytest_configure(self, config: pytest.Config) -> None:
        portalkit_logger = logging.getLogger("portalkit")
        portalkit_logger.setLevel(logging.DEBUG)
        portalkit_logger.addHandler(self.scan)
        config.addinivalue_line(
            "markers",
            "leaks_on_purpose: the test plants a credential in portalkit's logs to prove a"
            " scan finds it; the suite-wide log scan skips it",
        )

    def pytest_unconfigure(self) -> None:
        logging.getLogger("portalkit").removeHandler(self.scan)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.scan.current_test = item.nodeid
        self.scan.paused = item.get_closest_marker("leaks_on_purpose") is not None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "teardown":
            found = sorted(
                {(logger, what) for test, logger, what in self.scan.leaks if test == item.nodeid}
            )
            if found and report.outcome != "failed":
                report.outcome = "failed"
                report.longrepr = "a credential in portalkit's logs: " + "; ".join(
                    f"logger {logger!r} logged {what}" for logger, what in found
                )
        return report

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist's controller: add what a finished worker scanned."""
        counts = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
        if counts:
            self.scan.scanned += counts["scanned"]
            self.scan.leaks += [tuple(leak) for leak in counts["leaks"]]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:  # an xdist worker: the controller reports
            workeroutput[WORKER_OUTPUT] = {
                "scanned": self.scan.scanned,
                "leaks": [list(leak) for leak in self.scan.leaks],
            }
        if self.scan.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(
            f"portalkit log scan: {self.scan.scanned} records at DEBUG and above scanned for"
            f" credentials; {len(set(self.scan.leaks))} found"
        )
        if self.scan.leaks:
            terminalreporter.section("credentials in portalkit's logs", red=True)
            for test, logger, what in sorted(set(self.scan.leaks)):
                terminalreporter.line(f"{test}: logger {logger!r} logged {what}")
