"""Credentials never leak: not into exception messages or tracebacks, not into the repr of
any object portalkit hands out, not into any log record. TLS verification stays on, and a
plain-http base_url is refused unless it is loopback or the caller opts out.

The leak scan runs every scenario of the fault matrix (success, retries, every error
status, every fault) for each vendor, plus refused credentials and a vendor that echoes
the key in its error message, with every log record of every logger captured at DEBUG.
Then it gathers every secret that was in play -- API keys and signing secrets (valid,
wrong and read-only), each signature sent, each portal token and URL minted -- and looks
for each one in everything captured.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import ssl
import traceback
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import pytest
import trustme
from _fault_matrix import (
    FAST,
    MODES,
    RETURN_URL,
    SCENARIOS,
    VENDORS,
    RecordingHandler,
    capture_logs,
    run,
)
from _mock import create_link
from _raw_server import Forward, RawRequest, RawServer, Reply
from _vendors import adapter, deduplicates, portal_customer, seeded_customer, twin

from portalkit import AsyncPortal, Portal, PortalLink, PortalProvider, PortalRequest, RetryPolicy
from portalkit._http import httpx
from portalkit.errors import (
    AuthenticationFailed,
    InvalidRequest,
    PermissionDenied,
    PortalError,
    ProviderUnavailable,
)
from portalkit.sandbox import Sandbox

KeyKind = Literal["valid", "wrong", "no_scope"]
KEY_KINDS: tuple[KeyKind, ...] = ("valid", "wrong", "no_scope")


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Iterator[Sandbox]:
    served.reset()
    yield served
    served.reset()


class Exposure:
    """Everything a secret could leak into: texts gathered during a test."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []  # (where, text)

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def add_object(self, where: str, obj: object) -> None:
        self.add(f"repr({where})", repr(obj))
        self.add(f"str({where})", str(obj))

    def add_error(self, where: str, error: BaseException) -> None:
        self.add_object(where, error)
        # What logger.exception() or an unhandled error would print, causes included.
        self.add(f"traceback({where})", "".join(traceback.format_exception(error)))

    def add_records(self, handler: RecordingHandler) -> None:
        for record in handler.records:
            self.add(f"log {record.name}", handler.format(record))
            self.add(f"log args {record.name}", repr(record.args))

    def leaks(self, secrets: set[str]) -> list[str]:
        return [
            f"{where}: {secret[:6]}... in {text[:160]!r}"
            for secret in secrets
            for where, text in self.texts
            if secret in text
        ]


def credentials_in_headers(headers: Mapping[str, str]) -> set[str]:
    """The API key in ``Authorization: Bearer <key>`` and the Plugipay signature."""
    found: set[str] = set()
    authorization = headers.get("authorization")
    if authorization:
        found.add(authorization.split()[-1])
    signature = headers.get("x-plugipay-signature")
    if signature:
        found.update({signature, signature.removeprefix("v1=")})
    return found


def secrets_in_play(sandbox: Sandbox, vendor: str, links: list[PortalLink]) -> set[str]:
    """Every credential that existed during the test, as strings to look for."""
    found: set[str] = set()
    for kind in KEY_KINDS:
        creds = sandbox.credentials(vendor, kind)
        found.update(value for name, value in creds.items() if name != "key_id")
    for request in sandbox.received(vendor):
        found |= credentials_in_headers(request.headers)
    for session in sandbox.sessions(vendor):
        found.update({session.token, session.url})
    for link in links:
        found.add(link.url)
        found.update(deep.url for deep in link.deep_links)
    # Anything short would match by accident (and is no credential worth the name).
    return {secret for secret in found if len(secret) >= 12}


@dataclasses.dataclass(frozen=True)
class EchoCredentials:
    """A raw-server behaviour: 401, in envelopes every adapter reads (an ``error`` object, and
    JSON:API's ``errors`` list), whose message repeats the credentials the request carried
    (as some APIs do with a bad key)."""

    name: str = "401 echoing the credentials"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        sent = [request.headers.get(h, "") for h in ("authorization", "x-plugipay-signature")]
        message = f"Invalid credentials: {' / '.join(filter(None, sent))}"
        body = json.dumps(
            {
                "error": {
                    "type": "auth",
                    "code": "invalid_key",
                    "message": message,
                    "detail": message,
                },
                # ... and at the top level, where FastAPI-style envelopes put it (Polar's
                # {"error": "<name>", "detail": "<message>"}, with the older "type" for the
                # name: "error" is the object above).
                "type": "Unauthorized",
                "detail": message,
                # Chargebee's envelope is flat: its message and code at the top level. (An
                # adapter reads only its vendor's envelope: another shape is no verdict.)
                "message": message,
                "api_error_code": "api_authentication_failed",
                "http_status_code": 401,
                "errors": [{"status": "401", "title": message, "detail": message}],
            }
        )
        Reply(401, body.encode())(conn, request, server)


def echoed_credentials(server: RawServer) -> set[str]:
    found: set[str] = set()
    for request in server.requests:
        found |= credentials_in_headers(request.headers)
    return found


def _create(provider: PortalProvider, request: PortalRequest, mode: str) -> PortalLink:
    return create_link(mode, provider, request, retry=FAST)


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_secret_in_errors_reprs_or_logs(sandbox: Sandbox, vendor: str) -> None:
    exposure = Exposure()
    links: list[PortalLink] = []
    secrets: set[str] = set()
    with capture_logs() as everything:
        # The whole fault matrix, each scenario in one mode (alternating, so both run).
        for index, (name, scenario) in enumerate(SCENARIOS.items()):
            outcome = run(sandbox, scenario, vendor, MODES[index % 2])
            if outcome.link is not None:
                links.append(outcome.link)
                exposure.add_object(f"{name} link", outcome.link)
                for deep in outcome.link.deep_links:
                    exposure.add_object(f"{name} deep link", deep)
            if outcome.error is not None:
                exposure.add_error(f"{name} error", outcome.error)
            exposure.add_object(f"{name} request", outcome.request)
            secrets |= secrets_in_play(sandbox, vendor, links)
            sandbox.reset()  # the next scenario starts clean: no leftover faults

        # Refused credentials, and a vendor that echoes the key in its message.
        customer = portal_customer(sandbox, vendor)
        request = PortalRequest(customer_id=customer, return_url=RETURN_URL)
        refusals: list[tuple[KeyKind, type[PortalError]]] = [
            ("wrong", AuthenticationFailed),
            ("no_scope", PermissionDenied),
        ]
        for kind, expected in refusals:
            for mode in MODES:
                with pytest.raises(expected) as refused:
                    _create(sandbox.provider(vendor, kind), request, mode)
                exposure.add_error(f"{kind} key ({mode})", refused.value)
        for mode in MODES:
            with RawServer([EchoCredentials()]) as echo:
                with pytest.raises(AuthenticationFailed) as echoed:
                    _create(sandbox.provider(vendor, base_url=echo.url), request, mode)
                secrets |= echoed_credentials(echo)
            assert "Invalid credentials: <redacted>" in str(echoed.value)
            exposure.add_error(f"echoed credentials ({mode})", echoed.value)

        # A local refusal, and the objects a caller holds.
        with pytest.raises(InvalidRequest) as local:
            _create(
                sandbox.provider(vendor),
                PortalRequest(customer_id="not_this_vendors_" + "x" * 50),
                "sync",
            )
        exposure.add_error("local refusal", local.value)
        for kind in KEY_KINDS:
            provider = sandbox.provider(vendor, kind)
            exposure.add_object(f"{kind} provider", provider)
            exposure.add_object(
                f"{kind} http request", provider.build_request(request_for(vendor, customer))
            )
            with Portal(provider) as portal:
                exposure.add_object("Portal", portal)
            exposure.add_object("AsyncPortal", AsyncPortal(provider))
        exposure.add_object("RetryPolicy", RetryPolicy())
        for session in sandbox.sessions(vendor):
            exposure.add_object("sandbox session", session)
    exposure.add_records(everything)

    secrets |= secrets_in_play(sandbox, vendor, links)
    succeeding = [scenario for scenario in SCENARIOS.values() if scenario.expect is None]
    assert len(links) == len(succeeding), "a scenario minted no link: its tokens went unchecked"
    assert all(link.url in secrets for link in links)
    assert len([r for r in everything.records if r.name == "portalkit"]) > len(SCENARIOS)
    leaks = exposure.leaks(secrets)
    assert not leaks, "\n".join(leaks[:20])


def request_for(vendor: str, customer: str) -> PortalRequest:
    return PortalRequest(
        customer_id=customer,
        return_url=RETURN_URL,
        idempotency_key="key-for-repr-check" if deduplicates(vendor) else None,
    )


@pytest.mark.leaks_on_purpose
def test_the_scan_finds_a_planted_secret() -> None:
    """The control: the scanner reports a secret hidden anywhere in a captured text."""
    exposure = Exposure()
    with capture_logs() as handler:
        logging.getLogger("portalkit").debug("sending %s", {"auth": "Bearer sk_live_planted_123"})
    exposure.add_records(handler)
    exposure.add_error("error", ProviderUnavailable("boom", vendor_message="tok_planted_456789"))
    leaks = exposure.leaks({"sk_live_planted_123", "tok_planted_456789", "absent-secret-xyz"})
    assert len(leaks) >= 2
    assert not any("absent" in leak for leak in leaks)


# -- TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_authority() -> trustme.CA:
    return trustme.CA()


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_tls_verification_stays_on(
    sandbox: Sandbox, tls_authority: trustme.CA, vendor: str, mode: str
) -> None:
    """Portal's own client refuses a certificate it cannot verify (here: self-signed by a
    test authority), so nothing is sent; the same server works for a client that trusts
    that authority, so the refusal is the verification and nothing else."""
    customer = portal_customer(sandbox, vendor)
    request = PortalRequest(customer_id=customer, return_url=RETURN_URL)
    with RawServer([Forward()], upstream=sandbox.url, tls=_server_context(tls_authority)) as tls:
        provider = sandbox.provider(vendor, base_url=tls.url)
        with pytest.raises(ProviderUnavailable) as refused:
            _create(provider, request, mode)
        assert tls.requests == [], "a request went out over an unverified connection"
        assert isinstance(refused.value.__cause__, httpx.ConnectError)
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value.__cause__)

        client_context = ssl.create_default_context()  # the control: trusts the authority
        tls_authority.configure_trust(client_context)
        with (
            httpx.Client(verify=client_context) as client,
            Portal(provider, http_client=client, retry=FAST) as portal,
        ):
            link = portal.create_link(request)
        assert link.customer_id == customer
        assert len(tls.requests) == 1


def test_a_reply_over_tls_is_the_raw_server_working() -> None:
    """The TLS raw server also answers a fixed reply (guards the fixture the test above
    relies on)."""
    authority = trustme.CA()
    with RawServer([Reply(200, b"{}")], tls=_server_context(authority)) as server:
        context = ssl.create_default_context()
        authority.configure_trust(context)
        with httpx.Client(verify=context) as client:
            assert client.get(server.url + "/").status_code == 200


# -- base_url -----------------------------------------------------------------------------


def provider_with(vendor: str, base_url: str, **options: Any) -> PortalProvider:
    """The vendor's adapter, each credential field holding a value with "secret" in it (the
    refusal below must not echo one): the twin's valid value with "secret" appended, so an
    adapter that checks its key's format (Stripe's ``sk_test_...``) still takes it."""
    fields = twin(vendor).credentials["valid"]
    credentials = {name: f"{value}secret" for name, value in fields.items()}
    return adapter(vendor, credentials=credentials, base_url=base_url, **options)


INSECURE = [
    "http://api.example.com",
    "http://api.example.com:443",
    "http://10.0.0.5:8080",  # private, but not loopback
    "http://127.0.0.1.example.com",
    "http://localhost.example.com",
    "http://0.0.0.0:8000",
]
LOOPBACK = [
    "http://127.0.0.1:8000",
    "http://localhost:8000",
    "http://[::1]:8000",
    "http://127.0.0.2",
]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("base_url", INSECURE)
def test_plain_http_base_url_is_refused(vendor: str, base_url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        provider_with(vendor, base_url)
    assert refused.value.field == "base_url"
    assert refused.value.rule is not None
    assert "https" in refused.value.rule
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("base_url", INSECURE)
def test_plain_http_base_url_with_explicit_opt_out(vendor: str, base_url: str) -> None:
    provider = provider_with(vendor, base_url, allow_insecure_base_url=True)
    assert str(provider.build_request(request_for(vendor, _customer(vendor))).url).startswith(
        base_url
    )


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("base_url", LOOPBACK)
def test_plain_http_to_loopback_is_allowed(vendor: str, base_url: str) -> None:
    provider = provider_with(vendor, base_url)
    assert provider.build_request(request_for(vendor, _customer(vendor))).url.scheme == "http"


def _customer(vendor: str) -> str:
    return seeded_customer(vendor)
