"""Local checks that hold for every vendor, run before anything is sent.

Each check raises ``InvalidRequest`` naming the field and the rule it broke. Adapters add
their vendor's own id patterns on top (see ``require_pattern``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any, NoReturn
from urllib.parse import urlsplit

import attrs

from .errors import InvalidCredential, InvalidRequest

MAX_ID_LENGTH = 255
MAX_URL_LENGTH = 2048

# Ids end up in URL paths and headers: no slash, percent, dot-dot, whitespace or control
# character, no non-ASCII look-alike. Vendors' own patterns are stricter still.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_\-.:]+")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space: safe in an HTTP header
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
# Whitespace (str.isspace(), Unicode included: the same set as \s) and control characters;
# one regex scan instead of a Python loop over every character (about 4 µs per URL).
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_CONTROL_NOT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_LOOPBACK_NAMES = frozenset({"localhost"})


def fail(field: str, rule: str) -> NoReturn:
    raise InvalidRequest.local(field, rule)


def _check_text(field: str, value: object, max_length: int) -> str:
    if not isinstance(value, str):
        fail(field, f"must be a string, not {type(value).__name__}")
    if not value:
        fail(field, "must not be empty")
    if len(value) > max_length:
        fail(field, f"must be at most {max_length} characters (got {len(value)})")
    return value


def identifier(field: str, value: object) -> None:
    """A vendor object id: ASCII letters, digits, ``_ - . :``; no ``..``."""
    text = _check_text(field, value, MAX_ID_LENGTH)
    if not _IDENTIFIER.fullmatch(text) or ".." in text:
        fail(
            field,
            "must contain only ASCII letters, digits, '_', '-', '.', ':'"
            " (no '/', '%', '..', spaces or control characters)",
        )


def token(field: str, value: object) -> None:
    """An opaque token sent in a header (idempotency key): printable ASCII, no spaces."""
    text = _check_text(field, value, MAX_ID_LENGTH)
    if not _TOKEN.fullmatch(text):
        fail(field, "must be printable ASCII without spaces or control characters")


def locale(field: str, value: object) -> None:
    """A BCP 47 language tag such as ``fr`` or ``pt-BR``."""
    text = _check_text(field, value, 35)
    if not _LOCALE.fullmatch(text):
        fail(field, "must be a language tag such as 'fr' or 'pt-BR'")


def message(field: str, value: object, max_length: int) -> None:
    """Text shown to a customer: no control characters but line breaks."""
    text = _check_text(field, value, max_length)
    if _CONTROL_NOT_NEWLINE.search(text):
        fail(field, "must not contain control characters (line breaks are allowed)")


def count(field: str, value: object) -> None:
    """A whole number, zero or more (a quantity)."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(field, f"must be an integer, not {type(value).__name__}")
    if value < 0:
        fail(field, "must not be negative")


def unique(field: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            fail(field, f"must not repeat {value!r}")
        seen.add(value)


def instance_of(field: str, value: object, cls: type) -> None:
    if value is not None and not isinstance(value, cls):
        fail(field, f"must be a {cls.__name__} or None, not {type(value).__name__}")


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    if not (host[:1].isdigit() or ":" in host):
        # Not an IP literal (IPv4 starts with a digit, IPv6 holds a ':'): a host name is
        # answered without ipaddress raising, about 3 µs on every URL of every link.
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def return_url(field: str, value: object) -> None:
    """An absolute https URL to a plain ASCII host; http only for loopback (local development)."""
    text = _check_text(field, value, MAX_URL_LENGTH)
    if _SPACE_OR_CONTROL.search(text):
        fail(field, "must not contain whitespace or control characters")
    if not text.isascii():
        fail(field, "must be ASCII (write an international host name in punycode, xn--...)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        fail(field, "must be a well-formed absolute URL")
    if parts.scheme not in ("https", "http") or not host:
        fail(field, "must be an absolute https:// URL")
    if parts.scheme == "http" and not is_loopback_host(host):
        fail(field, "must use https:// (plain http is allowed only for localhost/127.0.0.1)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        fail(field, "must not contain user info (user@host)")
    if parts.fragment or "#" in text:
        fail(field, "must not contain a fragment (#...)")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def credential(field: str, value: object, provider: str) -> None:
    """An API key or secret, checked when the adapter is built: present, and safe to put in
    an HTTP header or an HMAC. A CR, LF or NUL would be refused by the HTTP stack at every
    call (and retried as if the vendor were down); a non-ASCII character fails to encode;
    surrounding whitespace is a copy-paste slip the vendor will refuse. The error names the
    field, never the value."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest.local(field, "is required", provider=provider)
    if _CONTROL.search(value):
        rule = "must not contain control characters (CR, LF, NUL, ...)"
    elif not value.isascii():
        rule = "must be ASCII (a pasted look-alike character?)"
    elif value != value.strip():
        rule = "must not start or end with whitespace"
    else:
        return
    raise InvalidCredential(
        f"{provider}: {field} {rule}; its value is not shown",
        field=field,
        rule=rule,
        provider=provider,
    )


def secret(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """The attrs validator of an adapter's key or secret (``credential``, named by the
    attribute, for the adapter's ``name``)::

        api_key: str = attrs.field(repr=False, validator=check.secret)
    """
    credential(attribute.name, value, getattr(instance, "name", type(instance).__name__))


def require_pattern(
    field: str, value: str, pattern: re.Pattern[str], description: str, provider: str
) -> None:
    """A vendor's own id format, e.g. Paddle's ``^ctm_[a-z\\d]{26}$``."""
    if not pattern.fullmatch(value):
        raise InvalidRequest.local(field, f"must match {description}", provider=provider)


def base_url(value: object, *, allow_insecure: bool = False) -> str:
    """A provider's API root: https, or http to a loopback host (a local sandbox), unless
    the caller explicitly opts out with ``allow_insecure_base_url=True``. No trailing slash."""
    text = _check_text("base_url", value, MAX_URL_LENGTH)
    # Each would fail only at the first call, as a transport error retried as an outage:
    # httpx refuses a space, a control character or a port out of range when it sends.
    if _SPACE_OR_CONTROL.search(text):
        fail("base_url", "must not contain whitespace or control characters")
    if not text.isascii():
        fail("base_url", "must be ASCII (write an international host name in punycode, xn--...)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port  # ValueError: not a number, or above 65535
    except ValueError:
        fail("base_url", "must be a well-formed absolute URL (a port is 1 to 65535)")
    if parts.scheme not in ("https", "http") or not host:
        fail("base_url", "must be an absolute https:// URL")
    if port == 0:
        fail("base_url", "must not name port 0 (a port is 1 to 65535)")
    if parts.query or parts.fragment or parts.username is not None:
        fail("base_url", "must not contain a query, fragment or user info")
    if parts.scheme == "http" and not (is_loopback_host(host) or allow_insecure):
        fail(
            "base_url",
            "must use https:// (http is allowed only for localhost/127.0.0.1, "
            "or with allow_insecure_base_url=True)",
        )
    return text.rstrip("/")
