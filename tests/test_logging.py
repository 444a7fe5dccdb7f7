"""A library's manners: portalkit's loggers print nothing in an app that configured no
logging, and a message does not repeat its logger's name (the app's format shows that)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from _mock import (
    PAYLERA_DOC_RESPONSE,
    PLUGIPAY_DOC_SESSION,
    Script,
    both_modes,
    mint,
    record_sleeps,
    reply,
)

from portalkit import MigrationRouter, PortalRequest, Route
from portalkit.errors import CustomerNotFound
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay
from portalkit.web import _core as web

PLUGIPAY = Plugipay(key_id="pk_log_key_id", key_secret="sk_log_secret_x81")
REQUEST = PortalRequest(PLUGIPAY_DOC_SESSION["customerId"], return_url="https://app.acme.com/a")

#: An app that configured no logging mints a link whose first attempt meets a 503.
APP = """
import sys
from portalkit import Portal, PortalRequest, RetryPolicy
from portalkit._http import httpx
from portalkit.providers.paylera import Paylera

{configure}
answers = [
    httpx.Response(503, json={{"error": {{"type": "api_error", "code": "down"}}}}),
    httpx.Response(201, json={answer!r}),
]
sent = []

def handler(request):
    sent.append(request)
    return answers[len(sent) - 1]

with httpx.Client(transport=httpx.MockTransport(handler)) as client:
    portal = Portal(Paylera(api_key="pl_key_1234"), http_client=client,
                    retry=RetryPolicy(backoff_initial=0.0))
    portal.create_link(PortalRequest("cus_42"))
print(len(sent))
"""


def run_app(configure: str = "") -> subprocess.CompletedProcess[str]:
    code = APP.format(configure=configure, answer=PAYLERA_DOC_RESPONSE)
    return subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )


def test_the_portalkit_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("portalkit").handlers
    assert any(type(handler) is logging.NullHandler for handler in handlers)


def test_an_app_without_logging_prints_nothing_on_a_retry() -> None:
    run = run_app()
    assert run.stdout.strip() == "2"  # the retry happened
    assert run.stderr == ""


def test_an_app_with_logging_sees_the_retry_once_named_by_its_logger() -> None:
    # The control: the warning is there for an app that asks for it, and the app's format
    # names the logger, so the message itself does not.
    run = run_app('import logging; logging.basicConfig(format="%(name)s| %(message)s")')
    assert run.stdout.strip() == "2"
    lines = run.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("portalkit| paylera attempt 1 failed (ProviderUnavailable")


@both_modes
def test_no_message_repeats_its_logger_name(
    mode: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="portalkit")
    record_sleeps(monkeypatch)
    paylera = Paylera(api_key="pl_log_api_key_4f")
    router = MigrationRouter(
        [PLUGIPAY, paylera],
        route=lambda request: Route(
            "plugipay", request.customer_id, fallback=Route("paylera", "cus_42")
        ),
        fallback=True,
    )
    script = Script(
        reply(503),  # a retry's warning
        reply(404, {"error": {"code": "NOT_FOUND", "message": "gone"}}),  # the fallback's
        reply(201, PAYLERA_DOC_RESPONSE),  # debug and info lines
    )
    mint(mode, router, script, REQUEST)
    web.refuse(CustomerNotFound("no such customer", provider="paylera", status=404))

    records = [r for r in caplog.records if r.name.startswith("portalkit")]
    names = {record.name for record in records}
    assert names == {"portalkit", "portalkit.web"}
    levels = {record.levelname for record in records}
    assert levels == {"DEBUG", "INFO", "WARNING"}
    messages = [record.getMessage() for record in records]
    assert any(m.startswith("plugipay attempt 1 failed") for m in messages)
    assert any(m.startswith("plugipay does not know customer") for m in messages)
    assert any(m.startswith("answered 404: CustomerNotFound") for m in messages)
    for message in messages:
        assert not message.startswith("portalkit"), message
