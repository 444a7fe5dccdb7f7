"""Vendor-free helpers that adapters use at the wire edge: JSON bodies, timestamps, cattrs
converters, and turning an error response into the right PortalError.

Every failure here becomes an ``InvalidResponse`` naming the provider, never a KeyError,
JSONDecodeError, RecursionError or cattrs error. Its message names the field and the rule
it broke, never a value the vendor sent: a vendor's answer may hold a bearer token anywhere,
and portalkit's own messages end up in logs.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._http import httpx
from ._retry import parse_retry_after
from .errors import (
    InvalidRequest,
    InvalidResponse,
    PortalError,
    RateLimited,
    UnexpectedEndpoint,
    error_class_for_status,
)

if TYPE_CHECKING:
    import cattrs

T = TypeVar("T")


def request_id_from_headers(response: httpx.Response, *names: str) -> str | None:
    for name in names:
        value: str | None = response.headers.get(name)
        if value:
            return value
    return None


def strip_slash(url: str) -> str:
    """A base URL without its trailing slash, so paths can be appended."""
    return str(url).rstrip("/")


def decode_json_object(
    response: httpx.Response, provider: str, request_id: str | None = None
) -> dict[str, Any]:
    """The response body as a JSON object, or ``InvalidResponse`` saying what was wrong."""

    def invalid(what: str) -> InvalidResponse:
        return InvalidResponse(
            f"{provider} answered HTTP {response.status_code} with {what}",
            provider=provider,
            status=response.status_code,
            request_id=request_id,
        )

    if not response.content:
        raise invalid("an empty body")
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise invalid("a content type that is not JSON" if content_type else "no content type")
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise invalid("a body that is not valid JSON (malformed or truncated)") from None
    except RecursionError:  # nested deeper than Python's stack: no vendor needs that
        raise invalid("JSON nested too deeply to read") from None
    if not isinstance(body, dict):
        raise invalid(f"a JSON {type(body).__name__}, not an object")
    return body


def parse_timestamp(
    value: object,
    field: str,
    provider: str,
    *,
    status: int | None = None,
    request_id: str | None = None,
) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp with an offset, as an aware UTC datetime."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    raise InvalidResponse(
        f"{provider} sent a {field} that is not an ISO 8601 time with an offset",
        provider=provider,
        status=status,
        request_id=request_id,
    )


def structure(
    converter: LazyConverter | cattrs.Converter,
    data: object,
    cls: type[T],
    provider: str,
    *,
    status: int | None = None,
    request_id: str | None = None,
) -> T:
    """``converter.structure`` that reports a malformed body as ``InvalidResponse``."""
    try:
        return converter.structure(data, cls)
    # cattrs' BaseValidationError is an ExceptionGroup: caught as such, because importing it
    # here on every call cost about 2 µs per create.
    except (
        ExceptionGroup,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
    ) as exc:
        details = "; ".join(_leaf_messages(exc))
        raise InvalidResponse(
            f"{provider} sent a body that does not match its documented shape: {details}",
            provider=provider,
            status=status,
            request_id=request_id,
        ) from None


def _leaf_messages(exc: BaseException) -> list[str]:
    import cattrs

    if isinstance(exc, cattrs.BaseValidationError):
        # "required field missing @ body.data.url": where, never the value (it may be a URL).
        return cattrs.transform_error(exc, path="body", format_exception=_rule_only)
    return [_rule_only(exc, None)]


def _rule_only(exc: BaseException, expected: type | None) -> str:
    """The rule a value broke, in portalkit's words: cattrs' own formatter and Python's
    exception texts may quote the value ("invalid literal for int(): '<token>'")."""
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, AttributeError):
        return "expected a mapping"
    if isinstance(exc, ValueError | TypeError) and expected is not None:
        return f"invalid value, expected {getattr(expected, '__name__', 'another type')}"
    return "invalid value"


def _strict_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


class LazyConverter:
    """A cattrs converter, made the first time a body is read or written. An adapter module
    holds one from import on; importing cattrs and building a converter would otherwise cost
    every cold start about ten milliseconds, before any request."""

    def __init__(self, build: Callable[[], cattrs.Converter]) -> None:
        self._build = build
        self._converter: cattrs.Converter | None = None

    @property
    def converter(self) -> cattrs.Converter:
        if self._converter is None:
            # Two threads may both build one on their first call: equal, and either will do.
            self._converter = self._build()
        return self._converter

    def structure(self, data: object, cls: type[T]) -> T:
        return self.converter.structure(data, cls)

    def unstructure(self, obj: object) -> Any:
        return self.converter.unstructure(obj)


def wire_converter() -> LazyConverter:
    """A converter for vendor bodies. Unlike cattrs' default, a ``str`` field accepts only a
    JSON string: the default calls ``str()``, turning ``"url": null`` into the URL "None"."""
    return LazyConverter(_make_wire_converter)


def _make_wire_converter() -> cattrs.Converter:
    import cattrs

    converter = cattrs.Converter()
    converter.register_structure_hook(str, _strict_str)
    return converter


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def camel_case_converter() -> LazyConverter:
    """A converter whose attrs classes appear camelCase on the wire (``customer_id`` <->
    ``customerId``), through a hook factory so each wire class needs no per-field code."""
    return LazyConverter(_make_camel_case_converter)


def _make_camel_case_converter() -> cattrs.Converter:
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    converter = _make_wire_converter()

    def renames(cls: type) -> dict[str, Any]:
        return {a.name: override(rename=snake_to_camel(a.name)) for a in attrs.fields(cls)}

    def unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
        return make_dict_unstructure_fn(cls, converter, **renames(cls))

    def structure_hook(cls: type) -> Callable[[Mapping[str, Any], Any], Any]:
        return make_dict_structure_fn(cls, converter, **renames(cls))

    converter.register_unstructure_hook_factory(attrs.has, unstructure_hook)
    converter.register_structure_hook_factory(attrs.has, structure_hook)
    return converter


def json_converter(*, camel_case: bool = False) -> LazyConverter:
    """A converter that takes JSON as JSON: a ``str``, ``int`` or ``bool`` field accepts only
    that JSON type (cattrs' defaults call ``int()`` and ``bool()``: ``"17"`` would be an int
    and ``"false"`` true), and a wire class only a JSON object (an all-optional class would
    otherwise take a string or a list as an empty object). For the vendors' webhook events,
    whose every field decides what the app is told. ``camel_case``: the classes appear
    camelCase on the wire, as ``camel_case_converter``'s do."""
    return LazyConverter(lambda: _make_json_converter(camel_case))


def _strict_int(value: object, _: type) -> int:
    if type(value) is not int:
        raise TypeError("expected an integer")
    return value


def _strict_bool(value: object, _: type) -> bool:
    if type(value) is not bool:
        raise TypeError("expected a boolean")
    return value


def _make_json_converter(camel_case: bool) -> cattrs.Converter:
    from cattrs.gen import make_dict_structure_fn, override

    converter = _make_wire_converter()
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(bool, _strict_bool)

    def structure_hook(cls: type) -> Callable[[Any, Any], Any]:
        renames: dict[str, Any] = (
            {a.name: override(rename=snake_to_camel(a.name)) for a in attrs.fields(cls)}
            if camel_case
            else {}
        )
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter, **renames)

        def only_objects(value: Any, type_: Any) -> Any:
            if not isinstance(value, Mapping):
                raise TypeError("expected an object")
            return structure(value, type_)

        return only_objects

    converter.register_structure_hook_factory(attrs.has, structure_hook)
    return converter


_CODE_SAFE = re.compile(r"[^\x20-\x7e]")


def vendor_error(
    provider: str,
    response: httpx.Response,
    *,
    code: str | None,
    message: str | None,
    request_id: str | None,
    overrides: Mapping[str, type[PortalError]] | None = None,
) -> PortalError:
    """The PortalError for a vendor's error response: one in the vendor's own error
    envelope (for one in another shape, see ``unexpected_endpoint``).

    The class comes from the vendor's error code when the adapter maps it (``overrides``,
    matched case-insensitively so ``VALIDATION_ERROR`` and ``validation_error`` agree), else
    from the HTTP status. ``RateLimited`` gets the ``Retry-After`` header.
    """
    status = response.status_code
    cls: type[PortalError] | None = None
    if code and overrides:
        cls = {k.lower(): v for k, v in overrides.items()}.get(code.lower())
    if cls is None:
        cls = error_class_for_status(status)
    summary = f"{provider} refused the request with HTTP {status}"
    if code:
        code = _CODE_SAFE.sub("?", code)[:100]
    if message:
        message = _CODE_SAFE.sub("?", message)[:500]
    if request_id:
        request_id = _CODE_SAFE.sub("?", request_id)[:200]
    context: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "code": code,
        "vendor_message": message,
        "request_id": request_id,
    }
    if cls is RateLimited or issubclass(cls, RateLimited):
        return RateLimited(
            summary, retry_after=parse_retry_after(response.headers.get("retry-after")), **context
        )
    return cls(summary, **context)


#: Statuses an answer in any shape still means: the wait (408, 429) or the outage (5xx) is
#: real whoever sent the page, so they stay retryable whatever the body.
_STATUS_WHATEVER_THE_BODY = frozenset({408, 429})
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,40}/[a-z0-9][a-z0-9.+-]{0,60}")


def unexpected_endpoint(
    provider: str,
    response: httpx.Response,
    *,
    request_id: str | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> PortalError:
    """The error for an error answer that is not the vendor's own (the adapter's
    ``parse_error`` decides that: it knows its envelope).

    Such a body is no verdict of the vendor's, so a status that would be one (400, 401, 403,
    404, 409, 422, any other 4xx, a 3xx) is ``UnexpectedEndpoint``: not retried, never a
    ``CustomerNotFound``, its message naming the host that answered and what to check --
    never the customer, the path or the query. 408, 429 and 5xx stay what the status says
    (``ProviderUnavailable``, ``RateLimited`` with the ``Retry-After`` header), retryable:
    a proxy's 503 page is still an outage. ``reason`` replaces the default account of what
    came back ("did not answer as <provider>'s API does (HTTP 404 with plain text, ...)");
    ``message``, words the adapter could read from the body, is kept only on those
    retryable errors (an ``UnexpectedEndpoint`` quotes no stranger's body)."""
    status = response.status_code
    if status >= 500 or status in _STATUS_WHATEVER_THE_BODY:
        return vendor_error(
            provider, response, code=None, message=message or None, request_id=request_id
        )
    host = answering_host(response)
    if reason is None:
        reason = (
            f"did not answer as {provider}'s API does (HTTP {status} with "
            f"{_body_kind(response)}, not {provider}'s error answer)"
        )
    where = f"the endpoint at {host}" if host else "the endpoint"
    check = f"the base URL for {host}" if host else "the adapter's base URL"
    if request_id:
        request_id = _CODE_SAFE.sub("?", request_id)[:200]
    return UnexpectedEndpoint(
        f"{provider}: {where} {reason}; check {check}: its path (a stray /v1, a proxy's"
        " prefix) and any proxy or firewall in between",
        host=host,
        provider=provider,
        status=status,
        request_id=request_id,
    )


def answering_host(response: httpx.Response) -> str | None:
    """The host (and port, when the URL gives one) the response came from: the base URL's.
    None when the response carries no request (one built by hand)."""
    try:
        url = response.request.url
    except RuntimeError:
        return None
    return request_host(url) or None


def request_host(url: httpx.URL) -> str:
    """``url``'s host, with its port when the URL gives one, as an error message shows it:
    never the path or the query (they may carry a customer's id)."""
    host = _CODE_SAFE.sub("?", url.host)[:255]
    if not host:
        return ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{host}:{url.port}" if url.port is not None else host


def _body_kind(response: httpx.Response) -> str:
    """What an answer's body is, in words that quote none of it."""
    if not response.content:
        return "an empty body"
    media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    else:
        return "JSON in another shape"
    if "html" in media:
        return "an HTML page"
    if media == "text/plain":
        return "plain text"
    if _MEDIA_TYPE.fullmatch(media):
        return f"a body of type {media}"
    return "a body that is not JSON"


def error_body(response: httpx.Response) -> Mapping[str, Any]:
    """The decoded error body, or {} when it is not a JSON object (an HTML page from a proxy)."""
    try:
        body = json.loads(response.content) if response.content else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


USER_AGENT = "portalkit/0.1 (+https://pypi.org/project/portalkit-billing/)"


# What json.dumps(separators=..., ensure_ascii=False) builds on every call, built once.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire."""
    if not payload:  # Paddle's body on most creates; the encoder's set-up costs ~2.5 µs a call
        return b"{}"
    return _JSON.encode(payload).encode()


def merge_options(
    payload: dict[str, Any], options: Mapping[str, Any], provider: str
) -> dict[str, Any]:
    """Add escape-hatch fields to a body without letting them replace a field portalkit set."""
    for key, value in options.items():
        if key in payload:
            raise InvalidRequest.local(
                f"provider_options[{provider!r}].{key}",
                "must not replace a field portalkit sets; use the PortalRequest field instead",
                provider=provider,
            )
        payload[key] = value
    return payload


# -- reading one answer ----------------------------------------------------------------------

_STRUCTURE_ERRORS = (ExceptionGroup, KeyError, TypeError, ValueError, AttributeError)


class Reply:
    """One vendor answer as an adapter reads it: the response, the provider and the request
    id travel together, so every failure names them without each call being told.

    ``reply = Reply.of(response, self.name, request_id=...)``, then ``reply.json_object()``,
    ``reply.structure(converter, body, cls)``, ``reply.timestamp(value, field)``,
    ``raise reply.invalid("a session for another flow")``; for an error answer,
    ``reply.error_json()`` to tell the vendor's envelope from another shape,
    ``reply.error_body(converter, cls)`` and ``reply.error(code=..., message=...)``, or
    ``reply.unexpected_endpoint()`` when the body is not the vendor's envelope.
    """

    __slots__ = ("provider", "request_id", "response")

    def __init__(
        self, response: httpx.Response, provider: str, request_id: str | None = None
    ) -> None:
        self.response = response
        self.provider = provider
        self.request_id = request_id

    @classmethod
    def of(cls, response: httpx.Response, provider: str, *, request_id: str | None = None) -> Reply:
        return cls(response, provider, request_id)

    @property
    def status(self) -> int:
        return self.response.status_code

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object (``InvalidResponse`` otherwise)."""
        return decode_json_object(self.response, self.provider, self.request_id)

    def structure(
        self, converter: LazyConverter | cattrs.Converter, data: object, cls: type[T]
    ) -> T:
        """``data`` (the body or a part of it) as wire class ``cls`` (``InvalidResponse``
        when it does not match)."""
        return structure(
            converter, data, cls, self.provider, status=self.status, request_id=self.request_id
        )

    def timestamp(self, value: object, field: str) -> datetime:
        """An ISO 8601 time with an offset, as an aware UTC datetime."""
        return parse_timestamp(
            value, field, self.provider, status=self.status, request_id=self.request_id
        )

    def unix_time(self, value: int, field: str) -> datetime:
        """Unix seconds, as an aware UTC datetime; one out of range is ``InvalidResponse``."""
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise self.invalid(f"{field} out of range for a unix time") from None

    def invalid(self, what: str) -> InvalidResponse:
        """``InvalidResponse``: "<provider> answered HTTP <status> with <what>". ``what`` names
        fields and rules, never a value the vendor sent."""
        return InvalidResponse(
            f"{self.provider} answered HTTP {self.status} with {what}",
            provider=self.provider,
            status=self.status,
            request_id=self.request_id,
        )

    def error_body(self, converter: LazyConverter | cattrs.Converter, cls: type[T]) -> T:
        """The error body as wire class ``cls``, leniently: a value of the wrong type is left
        out (its field keeps its default), and a body that is not a JSON object (a proxy's
        HTML page) gives ``cls()``, so the status still decides the error. Every field of
        ``cls`` needs a default."""
        return lenient_structure(converter, error_body(self.response), cls)

    def error_json(self) -> Mapping[str, Any]:
        """The error body as it came, a JSON object ({} when it is not one): for
        ``parse_error`` to tell the vendor's own error envelope from another shape."""
        return error_body(self.response)

    def has_error_object(self, *names: str) -> bool:
        """The error body is the envelope many vendors answer errors in: an ``error`` object
        in which one of ``names`` (the fields that name the error: ``"code"``, ``"type"``)
        is a non-empty text. A proxy's page, a framework's ``{"detail": ...}`` or a
        gateway's ``{"message": ...}`` is not."""
        error = self.error_json().get("error")
        return isinstance(error, dict) and any(text_or_none(error.get(n)) for n in names)

    def unexpected_endpoint(
        self, reason: str | None = None, *, message: str | None = None
    ) -> PortalError:
        """The error for an error answer whose body is not the vendor's own envelope (see
        ``unexpected_endpoint``): ``UnexpectedEndpoint`` naming the host, or for 408, 429
        and 5xx the status's retryable error (with ``message``, when given)."""
        return unexpected_endpoint(
            self.provider,
            self.response,
            request_id=self.request_id,
            reason=reason,
            message=message,
        )

    def error(
        self,
        *,
        code: str | None,
        message: str | None,
        request_id: str | None = None,
        overrides: Mapping[str, type[PortalError]] | None = None,
    ) -> PortalError:
        """The PortalError for this error answer (see ``vendor_error``), once ``parse_error``
        knows it is the vendor's own envelope; ``request_id`` (from the body) is used when
        the reply has none. Empty texts count as absent."""
        return vendor_error(
            self.provider,
            self.response,
            code=code or None,
            message=message or None,
            request_id=self.request_id or request_id or None,
            overrides=overrides,
        )


def lenient_structure(converter: LazyConverter | cattrs.Converter, data: object, cls: type[T]) -> T:
    """``data`` as ``cls``, keeping what fits: the values of the wrong type (at any depth)
    are dropped, so their fields keep their defaults. For error bodies, which are read to
    say as much as they can, never to refuse the answer."""
    try:
        return converter.structure(data, cls)
    except _STRUCTURE_ERRORS:
        pass
    try:
        return converter.structure(_fit(data, cls), cls)
    except _STRUCTURE_ERRORS:  # a required field missing: nothing usable
        return cls()


def _fit(data: object, cls: type) -> dict[str, Any]:
    """The parts of ``data`` whose type matches ``cls``'s fields (attribute or camelCase key)."""
    if not isinstance(data, Mapping):
        return {}
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for field in attrs.fields(cls):
        for key in (field.name, snake_to_camel(field.name)):
            if key in data:
                fitted = _fit_value(data[key], hints[field.name])
                if fitted is not _MISMATCH:
                    out[key] = fitted
                break
    return out


_MISMATCH = object()


def _fit_value(value: object, hint: Any) -> Any:
    import typing

    options = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = options[0] if len(options) == 1 else Any
    if hint in (str, int, bool, float):
        return value if type(value) is hint else _MISMATCH
    if isinstance(hint, type) and attrs.has(hint):
        return _fit(value, hint) if isinstance(value, Mapping) else _MISMATCH
    if typing.get_origin(hint) is list:
        if not isinstance(value, list):
            return _MISMATCH
        (item,) = typing.get_args(hint) or (Any,)
        fitted = [_fit_value(part, item) for part in value]
        return [part for part in fitted if part is not _MISMATCH]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        import typing

        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints
