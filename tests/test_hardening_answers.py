"""Issue 10, item 4: no answer can raise anything but a PortalError.

A property test feeds arbitrary statuses, headers and bodies to every adapter through
``Portal`` and ``AsyncPortal``; only ``PortalError`` subclasses may come out (or a link, when
the arbitrary answer happens to be a valid one). The web helpers answer only their
documented statuses (303, 400, 404, 502), never 500, whatever the vendor answered.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import flask
import pytest
from _answers import NAMES, VENDORS
from _mock import MODES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from portalkit import AsyncPortal, Portal, PortalLink, PortalRequest, RetryPolicy, errors
from portalkit._http import httpx
from portalkit.web import flask as web_flask
from portalkit.web import starlette as web_starlette

#: Retries on, but never a real sleep.
QUICK = RetryPolicy(
    max_attempts=2, deadline=5.0, backoff_initial=0.0, backoff_max=0.0, retry_after_cap=0.0
)
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

_HEADER_NAMES = st.sampled_from(
    [
        "content-type",
        "content-encoding",
        "content-length",
        "retry-after",
        "x-request-id",
        "request-id",
        "transfer-encoding",
        "x-other",
    ]
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-8",
            b"text/html",
            b"gzip",
            b"deflate",
            b"br",
            b"zstd",
            b"gzip, gzip",
            b"identity",
            b"x-unknown",
            b"0",
            b"5",
            b"999999999999",
            b"-1",
            b"Wed, 21 Oct 2015 07:28:00 GMT",
            b"1e309",
            b"nan",
            b"chunked",
        ]
    ),
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


def _json_like() -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=20,
    )


def _vendor_shaped(vendor: str) -> st.SearchStrategy[bytes]:
    """The vendor's own 201 with one field replaced by anything JSON can hold."""
    v = VENDORS[vendor]

    def build(value: Any, pick: int) -> bytes:
        body = v.body(v.good_url)
        data = body.get("data", body)
        while len(data) == 1 and isinstance(next(iter(data.values())), dict):
            data = next(iter(data.values()))  # through a one-key envelope to the object
        keys = sorted(data)
        data[keys[pick % len(keys)]] = value
        return json.dumps(body).encode()

    return st.builds(build, _json_like(), st.integers(0, 20))


def _bodies(vendor: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        _json_like().map(lambda value: json.dumps(value).encode()),
        _vendor_shaped(vendor),
        st.sampled_from([DEEP, DEEP_OBJECT, b"", b"{", b"null", b"\xff\xfe"]),
    )


def _answers(vendor: str) -> st.SearchStrategy[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    return st.tuples(
        st.integers(100, 599) | st.sampled_from([200, 201, 400, 404, 429, 500, 503]),
        st.lists(st.tuples(_HEADER_NAMES.map(str.encode), _HEADER_VALUES), max_size=5),
        _bodies(vendor),
    )


def _transport(answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> httpx.MockTransport:
    status, headers, body = answer

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(respond)


def _mint(mode: str, vendor: str, transport: httpx.MockTransport) -> PortalLink:
    v = VENDORS[vendor]
    if mode == "sync":
        with httpx.Client(transport=transport) as client:
            return Portal(v.build(), http_client=client, retry=QUICK).create_link(v.request())

    async def run() -> PortalLink:
        async with httpx.AsyncClient(transport=transport) as client:
            portal = AsyncPortal(v.build(), http_client=client, retry=QUICK)
            return await portal.create_link(v.request())

    return asyncio.run(run())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_any_answer_gives_a_link_or_a_portal_error(vendor: str, mode: str) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(answer=_answers(vendor))
    def check(answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        try:
            link = _mint(mode, vendor, _transport(answer))
        except errors.PortalError:
            return
        assert isinstance(link, PortalLink)  # a valid answer, by chance

    check()


@pytest.mark.parametrize("status", [200, 201, 400, 404, 429, 500])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["list", "object"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_json_nested_100000_deep_is_a_portal_error(
    vendor: str, mode: str, body: bytes, status: int
) -> None:
    transport = _transport((status, [(b"content-type", b"application/json")], body))
    with pytest.raises(errors.PortalError):
        _mint(mode, vendor, transport)


@pytest.mark.parametrize("length", [b"\xb2", b"\xd9\xa3", b"1e3", b" 5", b"+5", b"0x10"])
@pytest.mark.parametrize("status", [100, 201, 500])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_a_malformed_content_length_is_a_portal_error(
    vendor: str, mode: str, status: int, length: bytes
) -> None:
    """Found by the property test below: "²" (b"\xb2") passed str.isdigit(), then int()."""
    transport = _transport((status, [(b"content-length", length)], b""))
    with pytest.raises(errors.PortalError):
        _mint(mode, vendor, transport)


# -- the web helpers ------------------------------------------------------------------

DOCUMENTED = {303, 400, 404, 502}


def _flask_status(vendor: str, transport: httpx.MockTransport) -> int:
    v = VENDORS[vendor]
    portal = Portal(v.build(), http_client=httpx.Client(transport=transport), retry=QUICK)
    app = flask.Flask(__name__)
    app.add_url_rule(
        "/b",
        view_func=web_flask.redirect_view(portal, lambda _request: v.request()),
        methods=["POST"],
    )
    return int(app.test_client().post("/b").status_code)


def _starlette_status(vendor: str, transport: httpx.MockTransport) -> int:
    v = VENDORS[vendor]
    portal = AsyncPortal(v.build(), http_client=httpx.AsyncClient(transport=transport), retry=QUICK)

    def to_request(_: Any) -> PortalRequest:
        return v.request()

    app = Starlette(
        routes=[Route("/b", web_starlette.redirect_view(portal, to_request), methods=["POST"])]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.post("/b", follow_redirects=False).status_code


@pytest.mark.parametrize("framework", ["flask", "starlette"])
@pytest.mark.parametrize("vendor", NAMES)
def test_web_helpers_answer_only_documented_statuses(vendor: str, framework: str) -> None:
    status_of = _flask_status if framework == "flask" else _starlette_status

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(answer=_answers(vendor))
    def check(answer: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        assert status_of(vendor, _transport(answer)) in DOCUMENTED

    check()


@pytest.mark.parametrize("framework", ["flask", "starlette"])
@pytest.mark.parametrize("vendor", NAMES)
def test_web_helpers_answer_502_for_deep_json(vendor: str, framework: str) -> None:
    status_of = _flask_status if framework == "flask" else _starlette_status
    transport = _transport((201, [(b"content-type", b"application/json")], DEEP))
    assert status_of(vendor, transport) == 502
