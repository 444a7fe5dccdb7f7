"""No cassette may hold a key, secret, signature, portal token or e-mail address.

The recording hooks scrub them before anything is written (tests/_cassettes.py, Scrubber);
this module scans every committed cassette for what might have slipped through, and proves
the scanner can fail: on a dirty sample it reports each kind of secret, and on what the
hooks leave of that sample it reports nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _cassettes import (
    CASSETTES,
    REPLAY_BASE_URL,
    VENDORS,
    Scrubber,
    cassette_files,
    env_secrets,
    find_secrets,
    live_env,
    live_provider,
    vendor_mode,
)
from test_paddle import CASSETTE_IDS as PADDLE_IDS  # the dirty sample is a Paddle exchange
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from portalkit import PortalRequest

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdG1fMDEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
HMAC = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _sandbox_secrets() -> tuple[str, ...]:
    """Every credential value the sandbox hands out: the recordings used these."""
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    kinds = ("valid", "wrong", "no_scope")
    values = []
    for vendor in VENDORS:
        by_kind = [sandbox.credentials(vendor, key=key) for key in kinds]
        for fields in by_kind:
            for name, value in fields.items():
                # A field every kind of key shares names an account (Chargebee's site, in
                # every URL), it authenticates nothing.
                if len({other.get(name) for other in by_kind}) == 1:
                    continue
                if isinstance(value, str) and not value.startswith(("http://", "https://")):
                    values.append(value)
    return tuple(values)


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_cassette_holds_a_secret(vendor: str) -> None:
    files = [path for path in cassette_files() if path.parent.name == vendor]
    assert files, f"no cassettes under cassettes/{vendor}/"
    known = (*_sandbox_secrets(), *env_secrets())
    problems = {
        path.name: found
        for path in files
        if (found := find_secrets(path.read_text(encoding="utf-8"), known))
    }
    assert problems == {}


def test_every_cassette_is_in_a_vendor_folder() -> None:
    # The scan above goes vendor by vendor: a cassette elsewhere would escape it.
    assert {path.parent.name for path in cassette_files()} <= set(VENDORS)
    assert not list(CASSETTES.glob("*.yaml"))


# -- the scanner can fail --------------------------------------------------------------------

DIRTY_SAMPLES = {
    "Plugipay portal token (#t=)": '"url": "http://127.0.0.1:9/portal/ps_01/#t=abcDEF123"',
    "portal token query parameter": "https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_abc",
    "Paylera portal path token (/p/)": '"url": "https://portal.paylera.io/p/ps_01HXAB12"',
    "bearer credential": "Authorization:\n  - Bearer sk_sandbox_0123456789abcdef",
    "request signature": "X-Plugipay-Signature:\n  - v1=0a1b2c3d",
    "hex digest (HMAC or hashed secret)": f"X-Something: {HMAC}",
    "JSON web token": f"token: {JWT}",
    "Paddle API key": "pdl_sdbx_apikey_01gtgztp8fxxxxxx",
    "Stripe-style secret key": "sk_live_51Habcdef",
    "Set-Cookie header": "    set-cookie: portal=abc; HttpOnly",
    "Polar portal token (customer_session_token=)": (
        "https://polar.sh/acme/portal?customer_session_token=abc123&email=x"
    ),
    "Polar session token": '"token": "polar_cst_4tG0abcdef"',
    "Polar access token": "Bearer-less: polar_oat_0123456789abcdef",
    "e-mail address (personal data)": '"email": "alice.doe+billing@example.com"',
}

#: An e-mail address as a portal URL's query holds it: percent-encoded.
ENCODED_EMAIL = (
    "https://polar.sh/acme/portal?customer_session_token=x&email=alice.doe%40mail.example.org"
)


@pytest.mark.parametrize("reason", sorted(DIRTY_SAMPLES))
def test_scanner_reports_each_kind_of_secret(reason: str) -> None:
    problems = find_secrets(DIRTY_SAMPLES[reason])
    assert any(problem.startswith(reason) for problem in problems), problems


def test_scanner_finds_a_percent_encoded_e_mail_address() -> None:
    problems = find_secrets(ENCODED_EMAIL)
    assert any(problem.startswith("e-mail address") for problem in problems), problems


@pytest.mark.parametrize(
    "text",
    [
        "scrubbed1@example.invalid",  # what the hooks leave: a reserved domain
        "email=scrubbed12%40example.invalid&",
        "Accept: application/json",
        "https://polar.sh/acme/portal?customer_session_token=polar_scrubbed3&email=scrubbed1%40example.invalid",
    ],
)
def test_scanner_accepts_the_placeholders(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(
    "text",
    ["alice.scrubbed1@example.invalid", "scrubbed1@example.com", "xscrubbed1%40example.invalid"],
)
def test_a_placeholder_look_alike_is_still_an_address(text: str) -> None:
    assert any(p.startswith("e-mail address") for p in find_secrets(text))


def test_scanner_reports_a_known_secret_value_anywhere() -> None:
    assert find_secrets('{"note": "made with plain-old-secret-42"}', ("plain-old-secret-42",))


def _dirty_cassette() -> tuple[Request, dict[str, object]]:
    request = Request(
        "POST",
        "http://127.0.0.1:41234/customers/ctm_real000000000000000000000/portal-sessions",
        b'{"subscription_ids": ["sub_real000000000000000000001"]}',
        {
            "Authorization": "Bearer pdl_sdbx_apikey_realkey",
            "X-Plugipay-Key-Id": "key_live_0123",
            "X-Plugipay-Signature": f"v1={HMAC}",
            "Idempotency-Key": "6b0c1f9e-0d5e-4c4c-9d8e-3d1d8f0b1a2c",
        },
    )
    body = (
        '{"data": {"id": "ps_01HXAB12", "customer_id": "ctm_real000000000000000000000",'
        f' "url": "http://127.0.0.1:41234/portal/ps_01HXAB12#t={JWT}",'
        ' "paylera": "https://portal.paylera.io/p/ps_01HXAB12",'
        f' "overview": "https://customer-portal.paddle.com/cpl_01?action=overview&token=pga_{JWT}"'
        "}, "
        # Polar: the token twice (body and URL), the customer's e-mail twice (URL-encoded in
        # the portal URL, plain in the customer object).
        '"polar": {"token": "polar_cst_R3alT0ken",'
        ' "customer_portal_url": "https://polar.sh/acme/portal?customer_session_token='
        'polar_cst_R3alT0ken&email=Jane.Roe%40mail.example.org",'
        ' "customer": {"email": "jane.roe@mail.example.org", "name": "Jane"}}}'
    )
    response: dict[str, object] = {
        "status": {"code": 201, "message": "Created"},
        "headers": {
            "Content-Type": ["application/json"],
            "Content-Length": [str(len(body))],
            "Set-Cookie": ["portal=abc; HttpOnly"],
        },
        "body": {"string": body.encode()},
    }
    return request, response


def test_the_hooks_leave_nothing_the_scanner_finds() -> None:
    request, response = _dirty_cassette()
    dirty = serialize({"requests": [request], "responses": [response]}, yamlserializer)
    assert len(find_secrets(dirty)) >= 6  # the sample really is dirty

    scrubber = Scrubber(
        {
            "http://127.0.0.1:41234": REPLAY_BASE_URL,
            "ctm_real000000000000000000000": PADDLE_IDS.customer,
            "sub_real000000000000000000001": PADDLE_IDS.subscriptions[0],
        }
    )
    clean_request = scrubber.request(request)
    clean_response = scrubber.response(response)
    clean = serialize({"requests": [clean_request], "responses": [clean_response]}, yamlserializer)

    assert find_secrets(clean, ("pdl_sdbx_apikey_realkey", "key_live_0123", JWT, HMAC)) == []
    assert "jane.roe" not in clean.lower()
    assert "R3alT0ken" not in clean
    assert "127.0.0.1:41234" not in clean
    assert "ctm_real" not in clean
    assert "sub_real" not in clean
    # What the tests rely on is kept: the path, the idempotency key, a parseable body.
    assert clean_request.uri.startswith(f"{REPLAY_BASE_URL}/customers/{PADDLE_IDS.customer}")
    assert clean_request.headers["Idempotency-Key"] == "6b0c1f9e-0d5e-4c4c-9d8e-3d1d8f0b1a2c"
    body = clean_response["body"]["string"]  # type: ignore[index]
    body = body.decode() if isinstance(body, bytes) else body  # serialize() made it text
    assert clean_response["headers"]["Content-Length"] == [str(len(body.encode()))]  # type: ignore[index]
    # Paylera's session id is its URL's token: scrubbed everywhere, to the same placeholder.
    session_id = re.search(r'"id": "(ps_scrubbed\d+)"', body)
    assert session_id is not None
    assert f'/p/{session_id.group(1)}"' in body
    # One customer, one placeholder, in the form each place wrote it.
    assert "email=scrubbed1%40example.invalid" in body
    assert '"email": "scrubbed1@example.invalid"' in body


def test_the_hooks_keep_different_tokens_different() -> None:
    scrubber = Scrubber()
    text = scrubber.text("a#t=first b#t=second c#t=first")
    assert text == "a#t=scrubbed1 b#t=scrubbed2 c#t=scrubbed1"
    assert scrubber.text(text) == text  # scrubbing twice changes nothing


def test_live_recording_variables_are_named_from_each_twin() -> None:
    """A live recording reads the vendor's own variables, named from its twin's fields."""
    assert live_env("plugipay")["credentials"] == ("PLUGIPAY_KEY_ID", "PLUGIPAY_KEY_SECRET")
    assert live_env("paddle")["optional"] == (
        "PADDLE_ENVIRONMENT",
        "PADDLE_BASE_URL",
        "PADDLE_NO_SCOPE_API_KEY",
    )
    environ = {"PADDLE_API_KEY": "pdl_live_key", "PADDLE_NO_SCOPE_API_KEY": "pdl_read_only"}
    assert vendor_mode("paddle", {**environ, "PORTALKIT_RECORD": "1"}) == "live"
    assert vendor_mode("paylera", {**environ, "PORTALKIT_RECORD": "1"}) == "sandbox"
    assert set(env_secrets(environ)) == {"pdl_live_key", "pdl_read_only"}
    valid = live_provider("paddle", "valid", environ).build_request(
        PortalRequest(PADDLE_IDS.customer)
    )
    assert valid.headers["authorization"] == "Bearer pdl_live_key"
    assert valid.url.host == "sandbox-api.paddle.com"  # the test environment unless told
    no_scope = live_provider("paddle", "no_scope", environ).build_request(
        PortalRequest(PADDLE_IDS.customer)
    )
    assert no_scope.headers["authorization"] == "Bearer pdl_read_only"
    # Plugipay's wrong key: the right key id, signed with a secret that is not the account's.
    plugipay = {"PLUGIPAY_KEY_ID": "pk_live_1", "PLUGIPAY_KEY_SECRET": "the-real-secret"}
    wrong: Any = live_provider("plugipay", "wrong", plugipay)
    assert wrong.key_id == "pk_live_1"
    assert wrong.key_secret not in ("", "the-real-secret")
