"""The shortcuts taken for speed on every create (docs/performance.md) behave exactly as the
longer paths they skip."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from portalkit import PortalRequest
from portalkit._http import httpx
from portalkit._wire import json_body
from portalkit.errors import InvalidRequest, InvalidResponse
from portalkit.providers.paddle import Paddle

CUSTOMER = "ctm_01grnn4zta5a1mf02jjze7y2ys"


def paddle_answer(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        201, headers={"content-type": "application/json", **headers}, content=body
    )


def test_an_unreadable_paddle_body_still_quotes_the_request_id_header() -> None:
    # The header is read only when the body is unusable, and then still reported.
    response = paddle_answer(b"{not json", **{"X-Request-Id": "hdr-7"})
    with pytest.raises(InvalidResponse) as caught:
        Paddle(api_key="k").parse_response(response, PortalRequest(CUSTOMER))
    assert caught.value.request_id == "hdr-7"


def test_a_misshapen_paddle_body_quotes_the_header_when_meta_has_no_request_id() -> None:
    response = paddle_answer(b'{"data": {"id": 1}}', **{"X-Request-Id": "hdr-8"})
    with pytest.raises(InvalidResponse) as caught:
        Paddle(api_key="k").parse_response(response, PortalRequest(CUSTOMER))
    assert caught.value.request_id == "hdr-8"


def test_a_misshapen_paddle_body_prefers_the_request_id_in_its_meta() -> None:
    body = json.dumps({"data": {"id": 1}, "meta": {"request_id": "meta-9"}}).encode()
    response = paddle_answer(body, **{"X-Request-Id": "hdr-9"})
    with pytest.raises(InvalidResponse) as caught:
        Paddle(api_key="k").parse_response(response, PortalRequest(CUSTOMER))
    assert caught.value.request_id == "meta-9"


@pytest.mark.parametrize("payload", [{}, {"a": 1}, {"ids": ["sub_1", "é"]}])
def test_json_body_is_compact_utf8_json(payload: dict[str, object]) -> None:
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert json_body(payload) == expected


def test_requests_without_options_share_one_read_only_empty_mapping() -> None:
    first, second = PortalRequest(CUSTOMER), PortalRequest(CUSTOMER, provider_options={})
    assert first.provider_options is second.provider_options
    assert isinstance(first.provider_options, MappingProxyType)
    assert dict(first.provider_options) == {}


@pytest.mark.parametrize(
    "character",
    [" ", "\t", "\n", "\x00", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "\u2028", "\u3000"],
)
def test_a_return_url_with_any_whitespace_or_control_character_is_refused(
    character: str,
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        PortalRequest(CUSTOMER, return_url=f"https://shop.example/acc{character}ount")
    assert caught.value.field == "return_url"
    assert "whitespace or control" in str(caught.value)


def test_the_whitespace_check_matches_str_isspace_on_every_latin1_character() -> None:
    for code in range(0x100):
        text = f"https://shop.example/a{chr(code)}b"
        unsafe = chr(code).isspace() or code < 0x20 or code == 0x7F
        try:
            PortalRequest(CUSTOMER, return_url=text)
        except InvalidRequest as error:
            refused_for_space = "whitespace or control" in str(error)
        else:
            refused_for_space = False
        assert refused_for_space == unsafe, repr(chr(code))
