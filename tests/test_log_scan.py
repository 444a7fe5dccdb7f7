"""The suite-wide log scan (tests/_log_scan.py) must be able to fail."""

from __future__ import annotations

import logging

import pytest
from _log_scan import SecretScan


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
