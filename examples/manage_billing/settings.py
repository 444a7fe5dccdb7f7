"""Where the example listens and where browsers reach it, read from its own variables.

``PORTALKIT_EXAMPLE_HOST``, ``PORTALKIT_EXAMPLE_PORT`` and ``PORTALKIT_EXAMPLE_PUBLIC_URL``,
each checked before anything starts: a bad one is a ``SetupError`` that names it (never its
value), not a traceback from ``int()`` or uvicorn.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from portalkit import PortalRequest, errors

from .billing import SetupError

HOST_VARIABLE = "PORTALKIT_EXAMPLE_HOST"
PORT_VARIABLE = "PORTALKIT_EXAMPLE_PORT"
PUBLIC_URL_VARIABLE = "PORTALKIT_EXAMPLE_PUBLIC_URL"
#: A DNS host name: dot-separated labels of letters, digits and inner hyphens.
_HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def server_settings(environ: Mapping[str, str]) -> tuple[str, int, str]:
    """Where the app listens and where browsers reach it: ``(host, port, public_url)``.

    Each variable is checked before anything starts; a bad one is a ``SetupError`` naming
    it (never its value), not a traceback from ``int()`` or uvicorn."""
    host = listen_host(environ)
    port = listen_port(environ)
    return host, port, public_url_of(environ, host, port)


def listen_host(environ: Mapping[str, str]) -> str:
    """``PORTALKIT_EXAMPLE_HOST``: an IP address or a host name (default 127.0.0.1)."""
    host = environ.get(HOST_VARIABLE, "").strip() or "127.0.0.1"
    if _ip_address(host) is None and not _HOST_NAME.fullmatch(host):
        raise SetupError(
            f"{HOST_VARIABLE} must be an IP address or a host name to listen on (e.g."
            f" 127.0.0.1, 0.0.0.0, localhost), without a scheme or a port ({PORT_VARIABLE})"
        )
    return host


def listen_port(environ: Mapping[str, str]) -> int:
    """``PORTALKIT_EXAMPLE_PORT``: a whole number from 1 to 65535 (default 8000)."""
    value = environ.get(PORT_VARIABLE, "").strip() or "8000"
    port = int(value) if value.isascii() and value.isdigit() else 0
    if not 1 <= port <= 65535:
        raise SetupError(f"{PORT_VARIABLE} must be a port number from 1 to 65535")
    return port


def public_url_of(environ: Mapping[str, str], host: str, port: int) -> str:
    """``PORTALKIT_EXAMPLE_PUBLIC_URL``, or the listening address when a browser on this
    machine reaches the app there. The portal's return URL is built on it, so it must be
    one portalkit accepts as a return URL (https, or http on this machine), and an origin
    with at most a path: the app appends its own paths and query."""
    value = environ.get(PUBLIC_URL_VARIABLE, "").strip()
    if not value:
        address = _ip_address(host)
        if address is not None and address.is_unspecified:  # 0.0.0.0, ::: every interface
            host = "127.0.0.1"
        elif not is_loopback(host):
            raise SetupError(
                f"{PUBLIC_URL_VARIABLE} must be set when {HOST_VARIABLE} is not this machine's"
                " loopback or every interface: the https:// URL browsers reach the app at"
            )
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"
    parts = urlsplit(value)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise SetupError(f"{PUBLIC_URL_VARIABLE} must not contain a query or fragment")
    try:  # portalkit's own rule for a return URL, which is built on this one
        PortalRequest("setup-check", return_url=f"{value.rstrip('/')}/")
    except errors.InvalidRequest as exc:
        raise SetupError(f"{PUBLIC_URL_VARIABLE} {exc.rule}") from None
    return value.rstrip("/")


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = _ip_address(host)
    return host.lower() == "localhost" or (address is not None and address.is_loopback)
