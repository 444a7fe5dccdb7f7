"""Issue 10, items 1 and 2: every URL a vendor returns is checked before anyone sees it, and
a session bound to another customer is refused. Every vendor, sync and async.
"""

from __future__ import annotations

import re
from typing import Any

import flask
import pytest
from _answers import NAMES, VENDORS
from _mock import MODES, Script, mint, record_sleeps
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from portalkit import AsyncPortal, Portal, PortalLink, PortalRequest, _link_check, errors
from portalkit._http import httpx
from portalkit._link_check import MAX_LINK_LENGTH, host_matches
from portalkit.web import _core
from portalkit.web import flask as web_flask
from portalkit.web import starlette as web_starlette

# What a hostile or broken vendor might answer as the portal link. ``{host}`` is the
# vendor's own portal host, so only the rule named in the id can be what refuses it;
# ``{domain}`` is what a look-alike must not pass for: that host, or the domain under which
# the adapter's ``*.`` pattern takes every subdomain (``evil{host}`` would be one of them).
BAD_URLS: dict[str, str] = {
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "scheme-relative": "//evil.example/x",
    "other-host": "https://evil.example/portal/ps_1",
    "userinfo": "https://{host}@evil.example/",
    "userinfo-password": "https://{host}:pw@evil.example/",
    "relative": "/portal/ps_1",
    "empty": "",
    "crlf": "https://{host}/p\r\nSet-Cookie: a=b",
    "space": "https://{host}/p q",
    "tab": "https://{host}/p\tq",
    "nul": "https://{host}/p\x00",
    "non-ascii": "https://{host}/pé",
    "non-ascii-host": "https://{host}é/p",
    "huge": "https://{host}/" + "a" * 1_000_000,
    "just-over-limit": "https://{host}/" + "a" * MAX_LINK_LENGTH,
    "http": "http://{host}/p",
    "http-loopback-without-loopback-base": "http://127.0.0.1:9/p",
    "backslash-host": "https://evil.example\\.{host}/p",
    "percent-host": "https://evil.example%2f.{host}/p",
    "suffix-lookalike": "https://evil{domain}/p",
    "no-host": "https:///{host}/p",
    "opaque": "https:{host}/p",
    "ftp": "ftp://{host}/p",
    "bad-port": "https://{host}:99999/p",
}


def _host(vendor: str) -> str:
    return httpx.URL(VENDORS[vendor].good_url).host


def _domain(vendor: str) -> str:
    host = _host(vendor)
    hosts = type(VENDORS[vendor].build()).portal_hosts  # type: ignore[attr-defined]
    for pattern in hosts:
        if pattern.startswith("*.") and host_matches(host, [pattern]):
            return str(pattern[2:])
    return host


def _bad(vendor: str, kind: str) -> str:
    return BAD_URLS[kind].replace("{host}", _host(vendor)).replace("{domain}", _domain(vendor))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(BAD_URLS))
@pytest.mark.parametrize("vendor", NAMES)
def test_a_bad_portal_url_is_refused_unretried_and_unechoed(
    vendor: str, kind: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_sleeps(monkeypatch)
    v = VENDORS[vendor]
    url = _bad(vendor, kind)
    script = Script(v.response(url), v.response(url), v.response(url), v.response(url))
    with pytest.raises(errors.InvalidResponse) as caught:
        # A limit the million-character URL fits in: the URL check, not the size, refuses it.
        mint(mode, v.build(), script, v.request(), max_response_bytes=16 * 1024 * 1024)
    error = caught.value
    assert error.retryable is False
    assert len(script.sent) == 1  # refused, not retried
    assert error.provider == vendor
    text = f"{error} {error.message} {error!r}"
    assert "evil" not in text
    if url:
        assert url not in text
    assert "url" in error.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["javascript", "other-host", "userinfo", "crlf", "http"])
# Where the one answer carries deep links (a vendor that reads them in later requests gets
# none asked for here: see tests/_answers.py).
@pytest.mark.parametrize("vendor", [n for n in NAMES if VENDORS[n].deep_links])
def test_a_bad_deep_link_is_refused(vendor: str, kind: str, mode: str) -> None:
    v = VENDORS[vendor]
    script = Script(v.response(v.good_url, deep_url=_bad(vendor, kind)))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, v.build(), script, v.request())
    assert "deep_links[" in caught.value.message
    assert caught.value.retryable is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_the_vendors_own_portal_url_passes(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]
    script = Script(v.response(v.good_url))
    link = mint(mode, v.build(), script, v.request())
    assert link.url == v.good_url
    assert link.customer_id == v.customer
    assert len(script.sent) == 1  # tests/_answers.py's requests take one answer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_a_loopback_sandbox_may_answer_plain_http_on_loopback(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]
    provider = v.build(base_url="http://127.0.0.1:9")
    for url in ("http://127.0.0.1:9/portal/ps_1", "http://localhost:8/p", "http://[::1]:7/p"):
        link = mint(mode, provider, Script(v.response(url)), v.request())
        assert link.url == url
    # ... but never plain http anywhere else, nor a foreign https host.
    for url in ("http://evil.example/p", "https://evil.example/p"):
        with pytest.raises(errors.InvalidResponse):
            mint(mode, provider, Script(v.response(url)), v.request())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_custom_portal_hosts_adds_a_custom_domain(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]
    url = "https://billing.yourbrand.com/portal/ps_1"
    with pytest.raises(errors.InvalidResponse):
        mint(mode, v.build(), Script(v.response(url)), v.request())
    link = mint(
        mode,
        v.build(),
        Script(v.response(url)),
        v.request(),
        custom_portal_hosts="billing.yourbrand.com",  # a string is one host
    )
    assert link.url == url
    link = mint(
        mode,
        v.build(),
        Script(v.response("https://a.b.brand.example/p")),
        v.request(),
        custom_portal_hosts=["*.brand.example"],
    )
    assert link.url == "https://a.b.brand.example/p"
    with pytest.raises(errors.InvalidResponse):  # a pattern matches subdomains only
        mint(
            mode,
            v.build(),
            Script(v.response("https://brand.example/p")),
            v.request(),
            custom_portal_hosts=["*.brand.example"],
        )


def test_host_patterns_match_subdomains_only() -> None:
    assert host_matches("a.lemonsqueezy.com", ["*.lemonsqueezy.com"])
    assert host_matches("a.b.lemonsqueezy.com", ["*.lemonsqueezy.com"])
    assert not host_matches("lemonsqueezy.com", ["*.lemonsqueezy.com"])
    assert not host_matches("evillemonsqueezy.com", ["*.lemonsqueezy.com"])
    assert host_matches("plugipay.com", ["plugipay.com"])
    assert not host_matches("x.plugipay.com", ["plugipay.com"])


def test_url_verdicts_are_kept_per_origin_never_per_url() -> None:
    # The check is cached (it runs on every link and deep link); only the scheme and the
    # authority are a cache key, never the path or query, where vendors put the token.
    _link_check._origin_problem.cache_clear()
    hosts = ("portal.example.com",)
    first = "https://portal.example.com/session/tok_secret_1?email=a%40b.example"
    second = "https://portal.example.com/session/tok_secret_2"
    assert _link_check.url_problem(first, hosts, loopback_allowed=False) is None
    assert _link_check.url_problem(second, hosts, loopback_allowed=False) is None
    info = _link_check._origin_problem.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 1, 1)  # one origin, two URLs
    assert _link_check.url_problem("javascript:tok_secret_3", hosts, loopback_allowed=False)
    assert _link_check._origin_problem.cache_info().currsize == 1  # a URL without "//"
    other = _link_check.url_problem(
        "https://evil.example/session/tok", hosts, loopback_allowed=False
    )
    assert other == (
        "must be on one of the adapter's portal_hosts or the Portal's custom_portal_hosts"
    )


def test_every_shipped_adapter_declares_its_portal_hosts() -> None:
    for vendor in NAMES:
        hosts = type(VENDORS[vendor].build()).portal_hosts  # type: ignore[attr-defined]
        assert hosts
        assert all(isinstance(host, str) for host in hosts)
        assert host_matches(_host(vendor), hosts)


# -- 2. a session bound to someone else ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", [n for n in NAMES if VENDORS[n].other_customer])
def test_a_session_for_another_customer_is_refused(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]
    script = Script(*[v.response(v.good_url, customer=v.other_customer)] * 4)
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, v.build(), script, v.request())
    assert caught.value.retryable is False
    assert len(script.sent) == 1
    assert "customer_id" in caught.value.message
    # Not the other customer's id, as a value (a short numeric id may be part of a status).
    shown = re.compile(rf"(?<![\w-]){re.escape(str(v.other_customer))}(?![\w-])")
    assert not shown.search(f"{caught.value} {caught.value!r}")


@pytest.mark.parametrize("mode", MODES)
def test_a_paddle_answer_without_customer_id_is_the_requested_customers(mode: str) -> None:
    """Paddle's OpenAPI customer-portal-session requires only id, urls and created_at."""
    v = VENDORS["paddle"]
    link = mint(mode, v.build(), Script(v.response(v.good_url, omit_customer=True)), v.request())
    assert link.customer_id == v.customer


@pytest.mark.parametrize("mode", MODES)
def test_paylera_which_echoes_no_customer_binds_the_requested_one(mode: str) -> None:
    v = VENDORS["paylera"]
    link = mint(mode, v.build(), Script(v.response(v.good_url)), v.request())
    assert link.customer_id == v.request().customer_id


# -- the web helpers look again before writing Location -------------------------------


class _Leaky(Portal):
    """A Portal whose link skipped every check: what a future slip in an adapter or the core
    could hand the web helpers."""

    def __init__(self, url: str) -> None:
        super().__init__(VENDORS["paddle"].build())
        self.url = url

    def create_link(self, request: PortalRequest) -> PortalLink:
        return PortalLink(provider="paddle", session_id="s", customer_id="c", url=self.url)


class _AsyncLeaky(AsyncPortal):
    def __init__(self, url: str) -> None:
        super().__init__(VENDORS["paddle"].build())
        self.url = url

    async def create_link(self, request: PortalRequest) -> PortalLink:
        return PortalLink(provider="paddle", session_id="s", customer_id="c", url=self.url)


WEB_BAD = [
    "javascript:alert(1)",
    "//evil.example/x",
    "/relative",
    "",
    "http://evil.example/",
    "https://a@evil.example/",
    "https://evil.example/\r\nX: y",
]


def _to_request(*_: Any) -> PortalRequest:
    return VENDORS["paddle"].request()


@pytest.mark.parametrize("url", WEB_BAD)
def test_core_mint_refuses_a_non_https_target(url: str) -> None:
    outcome = _core.mint(_Leaky(url), lambda: _to_request())
    assert outcome == _core.BAD_GATEWAY


@pytest.mark.parametrize("url", WEB_BAD)
def test_flask_never_redirects_to_a_non_https_target(url: str) -> None:
    app = flask.Flask(__name__)
    app.add_url_rule(
        "/b", view_func=web_flask.redirect_view(_Leaky(url), _to_request), methods=["POST"]
    )
    response = app.test_client().post("/b")
    assert response.status_code == 502
    assert "Location" not in response.headers


@pytest.mark.parametrize("leaky", [_Leaky, _AsyncLeaky])
@pytest.mark.parametrize("url", WEB_BAD)
def test_starlette_never_redirects_to_a_non_https_target(url: str, leaky: Any) -> None:
    app = Starlette(
        routes=[Route("/b", web_starlette.redirect_view(leaky(url), _to_request), methods=["POST"])]
    )
    response = TestClient(app).post("/b", follow_redirects=False)
    assert response.status_code == 502
    assert "location" not in response.headers


def test_web_helpers_still_redirect_to_https_and_loopback() -> None:
    for url in ("https://customer-portal.paddle.com/p?token=t", "http://127.0.0.1:9/p"):
        outcome = _core.mint(_Leaky(url), lambda: _to_request())
        assert isinstance(outcome, PortalLink)
        assert outcome.url == url
