"""Issue 10, item 7: portalkit's own messages never carry a vendor's values.

Every field of each vendor's 201 is replaced, one at a time, by values that hold a marker
token (a string, a number, a list, an object, a deeply nested list); whatever portalkit
answers, its own message (and ``str(error)``, and the web helper's log line) never shows
the marker. The vendor's own error texts live in ``vendor_message`` / ``code``, apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from _answers import NAMES, VENDORS
from _mock import MODES, Script, mint

from portalkit import RetryPolicy, errors
from portalkit._http import httpx
from portalkit.web import _core

_ONE = RetryPolicy(max_attempts=1)

MARK = "tok_MARKER_a1b2c3"
POISON: dict[str, Any] = {
    "string": MARK,
    "url-string": f"https://evil.example/{MARK}",
    "time-like": f"2024-13-45T99:99:99Z{MARK}",
    "number": 1234567890123,
    "list": [MARK],
    "object": {MARK: MARK},
    "null": None,
    "bool": True,
}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key)
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*path, index)
            yield from _paths(value, (*path, index))


def _replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    if isinstance(body, dict):
        copy: Any = dict(body)
    else:
        copy = list(body)
    copy[head] = _replaced(body[head], tuple(rest), value)
    return copy


def _value(body: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        body = body[key]
    return body


def _cases() -> Iterator[Any]:
    for vendor in NAMES:
        body = VENDORS[vendor].body(VENDORS[vendor].good_url)
        for path in _paths(body):
            for kind in POISON:
                yield pytest.param(
                    vendor, path, kind, id=f"{vendor}-{'.'.join(map(str, path))}-{kind}"
                )


def _assert_clean(error: errors.PortalError) -> None:
    assert MARK not in error.message
    assert MARK not in str(error)
    assert MARK not in repr(error)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("vendor", "path", "kind"), list(_cases()))
def test_no_vendor_value_reaches_portalkits_message(
    vendor: str, path: tuple[Any, ...], kind: str, mode: str
) -> None:
    v = VENDORS[vendor]
    body = _replaced(v.body(v.good_url), path, POISON[kind])

    def answer(request: httpx.Request) -> httpx.Response:
        return v.reply(body, headers={"X-Request-Id": "req_1"})

    try:
        mint(mode, v.build(), Script(*[answer] * 4), v.request(), retry=_ONE)
    except errors.PortalError as error:
        _assert_clean(error)


def _as_time(value: Any) -> datetime | None:
    """``value`` read as an ISO 8601 time or unix seconds, else None."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    if isinstance(value, int) and not isinstance(value, bool) and 10**8 < value < 10**11:
        return datetime.fromtimestamp(value, UTC)
    return None


def _read_times(vendor: str) -> list[tuple[Any, ...]]:
    """Where the answer holds a time the link reports (its created_at or expires_at): the
    fields the adapter reads as times. (A vendor may carry times it does not read, or take
    the link's expiry from the URL: those are no such field.)"""
    v = VENDORS[vendor]
    body = v.body(v.good_url)
    link = mint("sync", v.build(), Script(v.response(v.good_url)), v.request(), retry=_ONE)
    reported = {link.created_at, link.expires_at} - {None}
    found: list[tuple[Any, ...]] = []
    for path in _paths(body):
        if _as_time(_value(body, path)) in reported:
            found.append(path)
    return found


#: Each vendor's time fields, for the vendors whose answer has one.
TIMES = {vendor: paths for vendor in NAMES if (paths := _read_times(vendor))}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("vendor", "path"),
    [
        pytest.param(vendor, path, id=f"{vendor}-{'.'.join(map(str, path))}")
        for vendor, paths in TIMES.items()
        for path in paths
    ],
)
def test_an_unparsable_time_is_named_by_field_and_rule(
    vendor: str, path: tuple[Any, ...], mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    v = VENDORS[vendor]
    body = _replaced(v.body(v.good_url), path, MARK)
    field = str(path[-1])
    iso = isinstance(_value(v.body(v.good_url), path), str)

    def answer(request: httpx.Request) -> httpx.Response:
        return v.reply(body)

    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, v.build(), Script(answer), v.request(), retry=_ONE)
    _assert_clean(caught.value)
    assert field in caught.value.message
    if iso:
        assert "ISO 8601" in caught.value.message
    else:  # unix seconds: a string is the wrong type, named by its path and the type expected
        assert "expected" in caught.value.message
    # What the web helper logs for it.
    with caplog.at_level(logging.WARNING, logger="portalkit.web"):
        _core.refuse(caught.value)
    assert caplog.records
    assert MARK not in caplog.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_a_content_type_is_not_echoed(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(v.status, content=b"{}", headers={"Content-Type": f"text/{MARK}"})

    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, v.build(), Script(answer), v.request(), retry=_ONE)
    _assert_clean(caught.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_an_error_answers_ids_and_codes_are_made_printable(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "bad\r\ncode", "message": "m\nx", "requestId": "r\n1"}}
        body["meta"] = {"request_id": "r\r\nforged log line"}
        return httpx.Response(400, json=body)

    with pytest.raises(errors.PortalError) as caught:
        mint(mode, v.build(), Script(answer), v.request(), retry=_ONE)
    for text in (caught.value.code, caught.value.request_id, caught.value.vendor_message):
        assert text is None or ("\n" not in text and "\r" not in text)
