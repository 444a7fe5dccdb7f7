"""``portalkit webhook verify``: a saved delivery checked with the environment's secret, for
every registered vendor (its first example case), through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _webhook_cases import NOW, WEBHOOK_VENDORS, Case, cases, made_up_env, signed_headers

from portalkit._webhook_cli import SavedDeliveryError, read_saved_delivery

PORTALKIT = Path(sys.executable).with_name("portalkit")


def saved(case: Case, headers: dict[str, str], *, crlf: bool = False) -> bytes:
    newline = "\r\n" if crlf else "\n"
    head = newline.join(
        ["POST /hooks HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    )
    return head.encode("latin-1") + case.body


def run(vendor: str, delivery: bytes, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_WEBHOOK_SECRET")}
    environ.update(made_up_env(vendor) if env is None else env)
    return subprocess.run(  # noqa: S603 -- the project's own console script
        [str(PORTALKIT), "webhook", "verify", "--provider", vendor, *extra],
        input=delivery,
        capture_output=True,
        env=environ,
        check=False,
    )


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_saved_delivery_prints_the_event_without_raw(vendor: str) -> None:
    case = cases(vendor)[0]
    result = run(vendor, saved(case, signed_headers(case), crlf=True), "--at", str(NOW))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert "raw" not in printed
    assert {k: printed[k] for k in case.expect} == dict(case.expect)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_rejected_delivery_says_why_and_nothing_secret(vendor: str) -> None:
    case = cases(vendor)[0]
    headers = signed_headers(case, suffix="-other")
    result = run(vendor, saved(case, headers), "--at", str(NOW))
    assert result.returncode == 1
    assert result.stdout == b""
    err = result.stderr.decode()
    assert "rejected (" in err
    for value in [*made_up_env(vendor).values(), *headers.values()]:
        if len(value) >= 8:
            assert value not in err
    assert case.body.decode()[:40] not in err


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS[:1])
def test_a_missing_secret_names_the_variable(vendor: str) -> None:
    case = cases(vendor)[0]
    result = run(vendor, saved(case, signed_headers(case)), env={})
    assert result.returncode == 2
    assert next(iter(made_up_env(vendor))) in result.stderr.decode()


def test_the_body_is_kept_byte_for_byte() -> None:
    headers, body = read_saved_delivery(b'X-A: 1\nX-B:  two \n\n{"a": 1}\n\n')
    assert headers == {"X-A": "1", "X-B": "two"}
    assert body == b'{"a": 1}\n\n'


@pytest.mark.parametrize(
    "data", [b"no blank line", b"POST / HTTP/1.1\nnot a header\n\n{}", b" X: 1\n\n{}"]
)
def test_input_that_is_not_a_saved_delivery(data: bytes) -> None:
    with pytest.raises(SavedDeliveryError):
        read_saved_delivery(data)
