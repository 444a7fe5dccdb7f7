"""Hostile input is refused locally, for every vendor, before anything is sent.

Customer and subscription ids end up in URL paths and headers, return URLs become
redirects, locales become header-ish body fields: each is checked at the edge and refused
with ``InvalidRequest`` naming the field and the rule it broke. Every property runs through
a ``Portal`` whose transport records what reaches it, and asserts it recorded nothing.
Hypothesis runs with a fixed seed (``derandomize=True``) so CI sees the same examples on
every run.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest
from _vendors import VENDORS, adapter, seeded_customer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains

from portalkit import AsyncPortal, Flow, Portal, PortalProvider, PortalRequest, RetryPolicy
from portalkit._http import httpx
from portalkit.errors import InvalidRequest, ProviderUnavailable, UnsupportedFeature

PROPERTY = settings(
    derandomize=True,  # a fixed seed: the same examples on every run
    database=None,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# A request each vendor would accept: every test breaks exactly one field of it. The customer
# is the vendor's twin's first seeded one (well-formed for that vendor).
VALID_CUSTOMER = {vendor: seeded_customer(vendor) for vendor in VENDORS}
VALID_SUBSCRIPTION = "sub_01hv8x29kz0t586xy6zn1a62ny"
VALID_RETURN_URL = "https://app.example.com/account/billing"
ALLOWED_HOST = "app.example.com"

ID_RULE = "must contain only ASCII letters, digits"
LENGTH_RULE = "must be at most 255 characters"


def provider_for(vendor: str) -> PortalProvider:
    """The vendor's adapter (through the registry, with its twin's credentials)."""
    return adapter(vendor)


def request_for(vendor: str, **fields: Any) -> PortalRequest:
    values: dict[str, Any] = {
        "customer_id": VALID_CUSTOMER[vendor],
        "return_url": VALID_RETURN_URL,
        **fields,
    }
    return PortalRequest(**values)


@attrs.define
class Recorder:
    """An httpx transport handler that records every request that reaches it."""

    sent: list[httpx.Request] = attrs.Factory(list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(503)


@contextmanager
def portal_for(vendor: str, **options: Any) -> Iterator[tuple[Portal, Recorder]]:
    recorder = Recorder()
    client = httpx.Client(transport=httpx.MockTransport(recorder))
    # One attempt: should a refusal regress, the test fails at once instead of retrying.
    options.setdefault("retry", RetryPolicy(max_attempts=1))
    with client, Portal(provider_for(vendor), http_client=client, **options) as portal:
        yield portal, recorder


def assert_refused_locally(
    vendor: str,
    make_request: Callable[[], PortalRequest],
    field: str,
    rule: str,
    **portal_options: Any,
) -> InvalidRequest:
    """Build the request and ask ``vendor``'s Portal for a link; it must be refused with
    ``InvalidRequest`` naming ``field`` and a rule containing ``rule``, and the transport
    must have seen nothing."""
    with portal_for(vendor, **portal_options) as (portal, recorder):
        with pytest.raises(InvalidRequest) as caught:
            portal.create_link(make_request())
        assert recorder.sent == [], "a refused request reached the transport"
    error = caught.value
    assert not isinstance(error, UnsupportedFeature)
    assert error.field == field
    assert error.rule is not None
    assert rule in error.rule
    assert error.status is None  # refused locally: no HTTP status
    message = str(error)
    assert field in message
    assert error.rule in message
    # The message is safe to log: no raw line breaks or NULs an attacker could inject.
    assert not set(message) & {"\r", "\n", "\x00"}
    return error


# -- strategies ---------------------------------------------------------------------------

#: Fragments that must never get into a URL path or a header: path traversal, encoded
#: slashes, header injection, NUL, and non-ASCII look-alikes of allowed characters.
INJECTIONS = (
    "/",
    "..",
    "%2F",
    "%2f",
    "%00",
    "\r\n",
    "\n",
    "\r",
    "\x00",
    "\t",
    " ",
    "?",
    "#",
    "\\",
    "\u0441",  # CYRILLIC SMALL LETTER ES, looks like 'c'
    "\u0430",  # CYRILLIC SMALL LETTER A
    "\u0131",  # LATIN SMALL LETTER DOTLESS I
    "\uff3f",  # FULLWIDTH LOW LINE, looks like '_'
    "\u2010",  # HYPHEN, looks like '-'
    "\u2024",  # ONE DOT LEADER, looks like '.'
    "\u2215",  # DIVISION SLASH, looks like '/'
    "\uff0f",  # FULLWIDTH SOLIDUS
    "\u200b",  # ZERO WIDTH SPACE
    "\u00a0",  # NO-BREAK SPACE
)
ALLOWED_ID_CHARS = set(string.ascii_letters + string.digits + "_-.:")


@st.composite
def poisoned(draw: st.DrawFn, base: str) -> str:
    """``base`` with one injection (a listed one, or any character an id may not hold)
    placed anywhere in it."""
    injection = draw(
        st.sampled_from(INJECTIONS)
        | st.characters(codec="utf-8").filter(lambda c: c not in ALLOWED_ID_CHARS)
    )
    at = draw(st.integers(0, len(base)))
    return base[:at] + injection + base[at:]


def too_long(base: str) -> st.SearchStrategy[str]:
    """``base`` padded with valid characters past the 255-character limit, up to 10,000."""
    return st.integers(256, 10_000).map(lambda n: (base + "0" * n)[:n])


# -- customer and subscription ids ----------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_customer_id_with_injection_is_refused(vendor: str, data: st.DataObject) -> None:
    bad = data.draw(poisoned(VALID_CUSTOMER[vendor]), label="customer_id")
    assert_refused_locally(
        vendor, lambda: request_for(vendor, customer_id=bad), "customer_id", ID_RULE
    )


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_customer_id_too_long_is_refused(vendor: str, data: st.DataObject) -> None:
    bad = data.draw(too_long(VALID_CUSTOMER[vendor]) | st.just("c" * 10_000), label="customer_id")
    error = assert_refused_locally(
        vendor, lambda: request_for(vendor, customer_id=bad), "customer_id", LENGTH_RULE
    )
    assert bad not in str(error)  # the message names the length, never echoes the id


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_subscription_id_with_injection_is_refused(vendor: str, data: st.DataObject) -> None:
    good = [VALID_SUBSCRIPTION[:-1] + str(i) for i in range(3)]
    at = data.draw(st.integers(0, len(good) - 1), label="position")
    bad = data.draw(poisoned(VALID_SUBSCRIPTION) | too_long(VALID_SUBSCRIPTION), label="id")
    ids = [*good[:at], bad, *good[at:]]
    rule = LENGTH_RULE if len(bad) > 255 else ID_RULE
    assert_refused_locally(
        vendor, lambda: request_for(vendor, subscription_ids=ids), f"subscription_ids[{at}]", rule
    )


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_flow_subscription_id_with_injection_is_refused(vendor: str, data: st.DataObject) -> None:
    bad = data.draw(poisoned(VALID_SUBSCRIPTION), label="subscription_id")
    assert_refused_locally(
        vendor,
        lambda: request_for(vendor, flow=Flow("cancel_subscription", bad)),
        "flow.subscription_id",
        ID_RULE,
    )


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_on_behalf_of_with_injection_is_refused(vendor: str, data: st.DataObject) -> None:
    bad = data.draw(poisoned("acc_01HX3Z9K8M7N6P5Q4R3S2T1V0W"), label="on_behalf_of")
    assert_refused_locally(
        vendor, lambda: request_for(vendor, on_behalf_of=bad), "on_behalf_of", ID_RULE
    )


# -- return URLs ------------------------------------------------------------------------------

_PATH = st.text(string.ascii_letters + string.digits + "-_/.", max_size=30)
_HOST = domains().filter(lambda host: host.lower() not in {"localhost"})


@st.composite
def https_urls(draw: st.DrawFn, host: st.SearchStrategy[str] = _HOST) -> str:
    return f"https://{draw(host)}/{draw(_PATH)}"


def _script_urls() -> st.SearchStrategy[str]:
    # Not starting with "/": "https:" + "//host" would be an ordinary https URL.
    payload = st.text(string.ascii_letters + string.digits + "()';,/=+", max_size=40).filter(
        lambda text: not text.startswith("/")
    )
    schemes = st.sampled_from(
        ["javascript:", "JavaScript:", "data:text/html,", "data:text/html;base64,", "vbscript:",
         "file:///", "ftp://", "//", "https:", "https:/"]
    )  # fmt: skip
    return st.tuples(schemes, payload).map("".join)


def _userinfo_urls() -> st.SearchStrategy[str]:
    user = st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
    password = st.none() | st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
    return st.builds(
        lambda u, p, host, path: f"https://{u}{':' + p if p else ''}@{host}/{path}",
        user,
        password,
        _HOST,
        _PATH,
    )


def _idn_urls() -> st.SearchStrategy[str]:
    label = st.text(
        st.characters(codec="utf-8", categories=["Ll", "Lu", "Lo"]), min_size=1, max_size=10
    ).filter(lambda text: not text.isascii())
    return st.builds(lambda lab, path: f"https://{lab}.example.com/{path}", label, _PATH)


def _fragment_urls() -> st.SearchStrategy[str]:
    fragment = st.text(string.ascii_letters + string.digits + "=&/", max_size=20)
    return st.builds(lambda url, frag: f"{url}#{frag}", https_urls(), fragment)


@st.composite
def _whitespace_urls(draw: st.DrawFn) -> str:
    url = draw(https_urls())
    blank = draw(st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x00",
                                  "\x7f", "\u00a0", "\u2028", "\u3000"]))  # fmt: skip
    at = draw(st.integers(0, len(url)))
    return url[:at] + blank + url[at:]


RETURN_URL_CASES: dict[str, tuple[st.SearchStrategy[str], str]] = {
    "script-or-data-scheme": (_script_urls(), "must be an absolute https:// URL"),
    "http-public-host": (
        https_urls().map(lambda url: "http" + url.removeprefix("https")),
        "must use https://",
    ),
    "userinfo": (_userinfo_urls(), "must not contain user info"),
    "idn-host": (_idn_urls(), "must be ASCII"),
    "fragment": (_fragment_urls(), "must not contain a fragment"),
    "whitespace-or-control": (
        _whitespace_urls(),
        "must not contain whitespace or control characters",
    ),
}


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("case", RETURN_URL_CASES)
@PROPERTY
@given(st.data())
def test_hostile_return_url_is_refused(vendor: str, case: str, data: st.DataObject) -> None:
    strategy, rule = RETURN_URL_CASES[case]
    bad = data.draw(strategy, label="return_url")
    assert_refused_locally(vendor, lambda: request_for(vendor, return_url=bad), "return_url", rule)


@PROPERTY
@given(https_urls() | st.builds(lambda p: f"http://127.0.0.1:8000/{p}", _PATH))
def test_plain_return_urls_are_accepted(url: str) -> None:
    """The control for the refusals above: ordinary https URLs (and http to loopback, for
    local development) pass, so the refusals are about the hostile part."""
    assert PortalRequest(customer_id="cus_1", return_url=url).return_url == url


# -- locales and idempotency keys (header-ish values) ------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_locale_with_line_break_is_refused(vendor: str, data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(["fr", "pt-BR", "en-US", "zh-Hant-TW"]), label="base")
    tail = data.draw(st.sampled_from(["", "X-Injected: 1", "\r\nSet-Cookie: a=b"]), label="tail")
    breaker = data.draw(st.sampled_from(["\r\n", "\n", "\r", "\x00", " "]), label="breaker")
    at = data.draw(st.integers(0, len(base)), label="at")
    bad = base[:at] + breaker + tail + base[at:]
    assert_refused_locally(
        vendor, lambda: request_for(vendor, locale=bad), "locale", "must be a language tag"
    )


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_idempotency_key_with_line_break_is_refused(vendor: str, data: st.DataObject) -> None:
    base = "4b0c1f0e-5a57-4a57-9d2a-5f4c1c3c9e11"
    bad = data.draw(
        st.builds(
            lambda at, b: base[:at] + b + base[at:],
            st.integers(0, len(base)),
            st.sampled_from(["\r\n", "\n", " ", "\x00", "\u00e9", "\r\nX-Evil: 1"]),
        ),
        label="idempotency_key",
    )
    assert_refused_locally(
        vendor,
        lambda: request_for(vendor, idempotency_key=bad),
        "idempotency_key",
        "must be printable ASCII",
    )


# -- the vendor's own id formats (checked by the adapter, still before sending) --------------

VENDOR_FORMAT_CASES = [
    pytest.param("plugipay", {"customer_id": "cus_01HX3Z9K8M7N6P5Q4R3S2T1V0"}, "customer_id",
                 id="plugipay-customer-25-chars"),
    pytest.param("plugipay", {"customer_id": "cus_01HX3Z9K8M7N6P5Q4R3S2T1VIL"}, "customer_id",
                 id="plugipay-customer-not-ulid"),
    pytest.param("plugipay", {"customer_id": "ctm_01HX3Z9K8M7N6P5Q4R3S2T1V0W"}, "customer_id",
                 id="plugipay-customer-wrong-prefix"),
    pytest.param("plugipay", {"return_url": None}, "return_url", id="plugipay-no-return-url"),
    pytest.param("plugipay", {"on_behalf_of": "merchant_42"}, "on_behalf_of",
                 id="plugipay-account-not-acc"),
    pytest.param("paylera", {"customer_id": "ctm_01hv8wt8nffez4p2b0xq3mkwtz"}, "customer_id",
                 id="paylera-customer-wrong-prefix"),
    pytest.param("paylera", {"customer_id": "cus_a.b"}, "customer_id", id="paylera-customer-dot"),
    pytest.param("paddle", {"customer_id": "ctm_01HV8WT8NFFEZ4P2B0XQ3MKWTZ"}, "customer_id",
                 id="paddle-customer-upper-case"),
    pytest.param("paddle", {"customer_id": "cus_01hv8wt8nffez4p2b0xq3mkwtz"}, "customer_id",
                 id="paddle-customer-wrong-prefix"),
    pytest.param("paddle", {"customer_id": "ctm_01hv8wt8nffez4p2b0xq3mkwt:"}, "customer_id",
                 id="paddle-customer-colon"),
    pytest.param("paddle", {"subscription_ids": ["sub_short"]}, "subscription_ids[0]",
                 id="paddle-subscription-short"),
    pytest.param("paddle", {"subscription_ids": [f"sub_{i:026d}" for i in range(26)]},
                 "subscription_ids", id="paddle-26-subscriptions"),
]  # fmt: skip


@pytest.mark.parametrize(("vendor", "fields", "field"), VENDOR_FORMAT_CASES)
def test_vendor_format_is_checked_before_sending(
    vendor: str, fields: dict[str, Any], field: str
) -> None:
    """Values every vendor could accept in principle, but this vendor's format refuses: the
    adapter refuses them in ``build_request``, so the transport still sees nothing."""
    request = request_for(vendor, **fields)  # valid for portalkit in general
    with portal_for(vendor) as (portal, recorder):
        with pytest.raises(InvalidRequest) as caught:
            portal.create_link(request)
        assert recorder.sent == []
    assert caught.value.field == field
    assert caught.value.rule
    assert caught.value.provider == vendor


# -- open-redirect protection: Portal(allowed_return_hosts=[...]) ---------------------------

_LOOKALIKE_HOSTS = st.sampled_from(
    [
        "app.example.com.evil.test",  # the allowed host as a prefix
        "evilapp.example.com",
        "evil-app.example.com",
        "app.example.co",
        "example.com",
        "app-example.com",
        "app.example.com.",  # the same host, fully qualified: must be *allowed*; see below
        "xn--app-example-com.test",
        "127.0.0.1",
    ]
)


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTY
@given(st.data())
def test_return_url_off_the_allowlist_is_refused(vendor: str, data: st.DataObject) -> None:
    host = data.draw(
        (_HOST | _LOOKALIKE_HOSTS).filter(lambda h: h.lower().rstrip(".") != ALLOWED_HOST),
        label="host",
    )
    scheme = "http" if host == "127.0.0.1" else "https"
    url = f"{scheme}://{host}/{data.draw(_PATH, label='path')}"
    assert_refused_locally(
        vendor,
        lambda: request_for(vendor, return_url=url),
        "return_url",
        "is not in this Portal's allowed_return_hosts",
        allowed_return_hosts=[ALLOWED_HOST],
    )


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/account",
        "https://APP.Example.com/account?tab=billing",
        "https://app.example.com./account",
        "https://app.example.com:8443/",
    ],
)
def test_return_url_on_the_allowlist_is_sent(vendor: str, url: str) -> None:
    """The control: a listed host (any case, trailing dot, any port) goes through."""
    with portal_for(vendor, allowed_return_hosts=["App.Example.com"]) as (portal, recorder):
        with pytest.raises(ProviderUnavailable, match="HTTP 503"):
            portal.create_link(request_for(vendor, return_url=url))
        assert len(recorder.sent) == 1


# -- the same refusals through AsyncPortal --------------------------------------------------

ASYNC_CASES: list[Any] = [
    pytest.param(
        "customer_id", {"customer_id": "cus_../../admin"}, ID_RULE, id="customer-traversal"
    ),
    pytest.param(
        "customer_id", {"customer_id": "cus_%2F..%2Fadmin"}, ID_RULE, id="customer-encoded-slash"
    ),
    pytest.param("customer_id", {"customer_id": "cus_a\r\nX-Evil: 1"}, ID_RULE, id="customer-crlf"),
    pytest.param(
        "customer_id", {"customer_id": "cus_\u0441\u0430t"}, ID_RULE, id="customer-lookalike"
    ),
    pytest.param(
        "customer_id", {"customer_id": "c" * 10_000}, LENGTH_RULE, id="customer-10000-chars"
    ),
    pytest.param(
        "subscription_ids[0]", {"subscription_ids": ["sub_a/b"]}, ID_RULE, id="subscription-slash"
    ),
    pytest.param(
        "return_url",
        {"return_url": "javascript:alert(1)"},
        "must be an absolute https:// URL",
        id="return-javascript",
    ),
    pytest.param(
        "return_url",
        {"return_url": "http://evil.example/"},
        "must use https://",
        id="return-http-public",
    ),
    pytest.param(
        "return_url",
        {"return_url": "https://a@b.example/"},
        "must not contain user info",
        id="return-userinfo",
    ),
    pytest.param(
        "return_url",
        {"return_url": "https://b\u00fccher.example/"},
        "must be ASCII",
        id="return-idn",
    ),
    pytest.param(
        "return_url",
        {"return_url": "https://b.example/#x"},
        "must not contain a fragment",
        id="return-fragment",
    ),
    pytest.param(
        "return_url",
        {"return_url": " https://b.example/"},
        "must not contain whitespace",
        id="return-whitespace",
    ),
    pytest.param(
        "return_url",
        {"return_url": "https://evil.test/"},
        "allowed_return_hosts",
        id="return-off-allowlist",
    ),
    pytest.param(
        "locale", {"locale": "fr\r\nX-Evil: 1"}, "must be a language tag", id="locale-crlf"
    ),
]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(("field", "fields", "rule"), ASYNC_CASES)
def test_async_portal_refuses_the_same(
    vendor: str, field: str, fields: dict[str, Any], rule: str
) -> None:
    recorder = Recorder()

    async def scenario() -> None:
        client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
        async with (
            client,
            AsyncPortal(
                provider_for(vendor), http_client=client, allowed_return_hosts=[ALLOWED_HOST]
            ) as portal,
        ):
            await portal.create_link(request_for(vendor, **fields))

    with pytest.raises(InvalidRequest) as caught:
        asyncio.run(scenario())
    assert recorder.sent == []
    assert caught.value.field == field
    assert caught.value.rule is not None
    assert rule in caught.value.rule
