"""What a vendor's answer must hold before anyone sees it: the portal URLs and the customer.

A portal link ends up in a ``Location`` header: the customer's browser goes wherever it
points. So ``link.url`` and every deep link must be an absolute ``https`` URL on one of the
hosts the adapter declares (``portal_hosts``), plus any custom portal domain the app named
(``Portal(custom_portal_hosts=...)``, for vendors such as Plugipay that serve the portal on
``billing.yourbrand.com``). No user info, whitespace, control or non-ASCII character, and at
most ``MAX_LINK_LENGTH`` characters. The one exception is a local sandbox: when the adapter's
``base_url`` is a loopback address, a link on a loopback host is accepted too (plain
``http`` allowed) -- never ``http`` to any other host.

And the session must be the requested customer's: a 2xx answer naming another customer is
refused (``check_customer``; a vendor that does not echo the customer puts the requested id on
the link itself).

Every refusal is an ``InvalidResponse`` that is not retried (the vendor meant what it sent)
and whose message names the field and the rule, never the vendor's value: a URL is a bearer
credential, and a hostile one must not reach a log line either.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from ._models import PortalLink, PortalRequest
from ._protocol import PortalProvider
from ._validation import is_loopback_host
from .errors import InvalidResponse

MAX_LINK_LENGTH = 2048

# Printable ASCII only: no space, no control character, nothing a browser would re-read.
_PRINTABLE = re.compile(r"[\x21-\x7e]*")
# A DNS host name: dot-separated LDH labels. No '%', '\\' or '_': a browser reads
# ``evil.example\.portal.example`` as evil.example, whatever a suffix match says.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalize_host(host: str) -> str:
    """A host name as compared: lower case, without the trailing dot of a rooted name."""
    return host.strip().lower().rstrip(".")


def host_patterns(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """Host names and ``*.example.com`` patterns, normalized; a lone string is one host."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    return tuple(normalize_host(value) for value in values)


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """``host`` is one of ``patterns``; ``*.example.com`` matches any subdomain of
    example.com (``a.example.com``, ``a.b.example.com``) but not example.com itself."""
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _is_host_name(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.split(".")
    return all(_LABEL.fullmatch(label) for label in labels)


def _loopback_base(provider: PortalProvider) -> bool:
    """The adapter talks to a local sandbox: its ``base_url`` is on a loopback host."""
    base_url = getattr(provider, "base_url", None)
    return isinstance(base_url, str) and _is_loopback_url(base_url)


@functools.lru_cache(maxsize=64)
def _is_loopback_url(base_url: str) -> bool:
    # Cached: an adapter's base URL is checked on every link it mints, and parsing it (with
    # ipaddress for 127.0.0.1) cost about 3 µs a create. A base URL is configuration.
    try:
        host = urlsplit(base_url).hostname
    except ValueError:
        return False
    return bool(host) and is_loopback_host(host or "")


_declared_hosts = functools.lru_cache(maxsize=64)(host_patterns)


def _provider_hosts(provider: PortalProvider) -> tuple[str, ...]:
    declared = getattr(provider, "portal_hosts", ())
    if isinstance(declared, (tuple, str)):  # hashable: normalized once per value
        return _declared_hosts(declared)
    return host_patterns(declared)


# The scheme and the authority of an absolute URL, exactly as ``urlsplit`` cuts them for the
# URLs url_problem lets this far (printable ASCII, so nothing urlsplit would strip first).
_ORIGIN = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)")


def url_problem(
    url: object, hosts: tuple[str, ...] | None, *, loopback_allowed: bool
) -> str | None:
    """Why ``url`` may not be handed to a customer, or None when it may. ``hosts=None``
    checks the shape only (any host)."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    if len(url) > MAX_LINK_LENGTH:
        return f"must be at most {MAX_LINK_LENGTH} characters"
    if not _PRINTABLE.fullmatch(url):
        return "must hold only printable ASCII (no whitespace, control or non-ASCII characters)"
    origin = _ORIGIN.match(url)
    if origin is None:  # no "scheme://": refused below, with the reason (and not cached)
        return _origin_verdict(url, hosts, loopback_allowed)
    # Everything after the authority is the vendor's (the session token); every verdict
    # depends only on the scheme and the authority, so it is worked out once per origin
    # (about 3 µs a URL, on every link and deep link) and never keeps the URL itself.
    return _origin_problem(origin[0], hosts, loopback_allowed)


def _origin_verdict(
    origin: str, hosts: tuple[str, ...] | None, loopback_allowed: bool
) -> str | None:
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return "must be a well-formed absolute URL"
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if (
        scheme not in ("https", "http")
        or not netloc
        or not origin.lower().startswith(scheme + "://")
    ):
        return "must be an absolute https:// URL"
    if "@" in netloc:
        return "must not carry user info (user@host)"
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    host = normalize_host(host)
    if not host or not _is_host_name(host):
        return "must name a plain host (letters, digits, '-', '.')"
    loopback = loopback_allowed and is_loopback_host(host.strip("[]"))
    if scheme == "http" and not loopback:
        return "must use https:// (plain http only to a loopback sandbox)"
    if hosts is not None and not loopback and not host_matches(host, hosts):
        if not hosts:
            return (
                "must be on a portal host the adapter declares (it declares none: add "
                "portal_hosts to the adapter, or name the host in custom_portal_hosts)"
            )
        return "must be on one of the adapter's portal_hosts or the Portal's custom_portal_hosts"
    return None


_origin_problem = functools.lru_cache(maxsize=256)(_origin_verdict)


def is_safe_redirect(url: object) -> bool:
    """Whether a browser may be sent to ``url``: an absolute https URL (or http to a loopback
    host, a local sandbox) with a plain host and nothing a browser would re-read. The web
    helpers ask this again before writing ``Location``, whatever an adapter let through."""
    return url_problem(url, None, loopback_allowed=True) is None


def refused(provider: str, field: str, rule: str, status: int | None) -> InvalidResponse:
    """The non-retryable ``InvalidResponse`` for a 2xx answer portalkit will not pass on."""
    error = InvalidResponse(
        f"{provider} answered with a {field} that {rule}; refused",
        provider=provider,
        status=status,
    )
    error.retryable = False  # the vendor meant it: asking again gets the same answer
    return error


def check_links(
    provider: PortalProvider,
    link: PortalLink,
    custom_hosts: tuple[str, ...],
    status: int | None = None,
) -> None:
    """Refuse ``link`` unless its URL and every deep link may be handed to a customer."""
    hosts = (*_provider_hosts(provider), *custom_hosts)
    loopback = _loopback_base(provider)
    checks = [("url", link.url)]
    checks += [(f"deep_links[{i}].url", deep.url) for i, deep in enumerate(link.deep_links)]
    for field, url in checks:
        problem = url_problem(url, hosts, loopback_allowed=loopback)
        if problem is not None:
            raise refused(provider.name, field, problem, status)


def check_customer(
    provider: PortalProvider, link: PortalLink, request: PortalRequest, status: int | None = None
) -> None:
    """Refuse a session bound to another customer than the one ``request`` named.

    The one place that decides what "the same customer" means, so a vendor whose links carry
    an id of its own for the app's customer can adjust the rule here."""
    expected = request.vendor_customer_id
    if expected is None:
        # The request named the customer by the app's own id: the link carries the vendor's
        # id for them, which the request cannot know. The adapter checks the vendor's echo
        # of the app's id itself (see PortalRequest.vendor_customer_id).
        return
    if link.customer_id != expected:
        raise refused(
            provider.name,
            "customer_id",
            "is not the customer the request named (a session for someone else)",
            status,
        )


def checked_link(
    provider: PortalProvider,
    link: PortalLink,
    request: PortalRequest,
    custom_hosts: tuple[str, ...],
    status: int | None = None,
) -> PortalLink:
    """``link`` once it passed every check (see the module docstring)."""
    if not isinstance(link, PortalLink):
        raise refused(provider.name, "result", "is not a PortalLink", status)
    check_customer(provider, link, request, status)
    check_links(provider, link, custom_hosts, status)
    return link
