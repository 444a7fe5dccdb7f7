"""The suite-wide log scan (tests/_log_scan.py) must be able to fail."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _log_scan import SecretScan

pytest_plugins = ["pytester"]


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("portalkit", logging.DEBUG, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    "message",
    [
        "minted https://sandbox/plugipay/portal/ps_01ABC#t=eyJhbGciOiJIUzI1NiJ9",
        "opened https://sandbox/paddle/cpl_x?action=overview&token=pga_abcdefghijk",
        "opened https://sandbox/paylera/p/ps_Prlz8a9b0c1d2e3f",
        "header Authorization: Bearer sk_live_abcdef",
        "signature v1=" + "ab" * 32,
        "key sk_sandbox_paylera_portal",
        "opened https://polar.sh/acme/portal?customer_session_token=polar_cst_abcdefgh&email=x",
        "session token polar_cst_9sTLXcBvQk4u",
        "access token polar_oat_0123456789",
        "customer jane.roe@mail.example.org",
        "url ...&email=jane.roe%40mail.example.org",
    ],
)
def test_a_credential_in_a_record_is_found(message: str) -> None:
    scan = SecretScan()
    scan.current_test = "tests/x.py::test_y"
    scan.emit(_record("%s", message))
    assert scan.leaks
    assert scan.leaks[0][0] == "tests/x.py::test_y"


def test_a_clean_record_passes() -> None:
    scan = SecretScan()
    scan.emit(_record("paddle minted portal session %s for customer %s", "cpls_1", "ctm_1"))
    assert scan.leaks == []


def test_a_paused_scan_ignores_records() -> None:
    scan = SecretScan()
    scan.paused = True
    scan.emit(_record("Bearer sk_live_abcdef"))
    assert scan.leaks == []


_LEAKING_SUITE = """
import logging

def test_clean():
    logging.getLogger("portalkit").debug("minted portal session %s", "cpls_1")

def test_leaks():
    logging.getLogger("portalkit.test").warning("header Authorization: Bearer sk_live_abcdef")
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_a_leak_fails_its_test_and_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
) -> None:
    """The wiring, not only the scan: the leaking test fails, the clean one passes, and the
    summary counts every worker's records."""
    pytester.makeconftest(
        "from _log_scan_plugin import LogScanPlugin\n"
        "def pytest_configure(config):\n"
        "    config.pluginmanager.register(LogScanPlugin(), 'portalkit-log-scan')\n"
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite=_LEAKING_SUITE)
    tests_dir = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", tests_dir)
    # --show-capture=no: pytest prints a failed test's captured log, the planted key included.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--show-capture=no", *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # test_leaks itself passes; its teardown is the error that names the leak.
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR*test_leaks - a credential in portalkit's logs*"])
    result.stdout.fnmatch_lines(
        [
            "*portalkit log scan: 2 records at DEBUG and above scanned for credentials; 1 found*",
            "*test_suite.py::test_leaks: logger 'portalkit.test' logged Bearer*",
        ]
    )
    assert "sk_live_abcdef" not in result.stdout.str()
