"""Showing a portal URL without its credential.

Vendors put the bearer token in different places: Plugipay in the ``#t=`` fragment, Paddle
in a ``token=`` query parameter, Paylera in the path itself (``/p/ps_...``). So a redacted URL
keeps only the scheme and host, which is enough to tell which portal a link points at.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._http import httpx
    from .errors import PortalError

REDACTED = "<redacted>"
#: Request headers whose values are credentials (Authorization, X-Plugipay-Signature, ...).
_CREDENTIAL_HEADER_WORDS = ("authorization", "signature", "secret", "token", "api-key", "apikey")
_SHORTEST_CREDENTIAL = 8  # shorter values would be cut out of ordinary words


def redact_url(url: object) -> str:
    """``https://portal.example/<redacted>`` for any URL; never the path, query or fragment."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return repr(REDACTED)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if not parts.scheme or not host:
        return repr(REDACTED)
    return repr(f"{parts.scheme}://{host}/{REDACTED}")


def session_label(session_id: str, url: str) -> str:
    """The session id as it may be shown or logged.

    Some vendors put the session id in the link itself (Paylera's ``/p/<id>`` path is the
    bearer token), which makes the id as secret as the link: then only its first characters
    are shown, enough to correlate with the vendor's dashboard.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url
    if session_id and session_id in path:
        return f"{_printable(session_id[:7])}…"
    return _printable(session_id[:100])


def _printable(text: str) -> str:
    """A vendor's id as a log line may show it: no control or separator character, so an
    id holding a newline cannot forge a log line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else "?" for char in text)


def sent_credentials(request: httpx.Request) -> set[str]:
    """The credential values ``request`` carries in its headers: each whole value and the
    part after its scheme (``Bearer <key>``) or version (``v1=<signature>``)."""
    found: set[str] = set()
    for name, value in request.headers.items():
        if not any(word in name for word in _CREDENTIAL_HEADER_WORDS):
            continue
        found.add(value.strip())
        for separator in (" ", "="):
            _, _, credential = value.partition(separator)
            found.add(credential.strip())
        found.update(_basic_parts(value))
    return {value for value in found if len(value) >= _SHORTEST_CREDENTIAL}


def _basic_parts(value: str) -> tuple[str, ...]:
    """The user name and password inside ``Basic <base64>``: the key a vendor could echo
    is the decoded one, not its base64."""
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return ()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("latin-1")
    except (ValueError, binascii.Error):
        return ()
    user, _, password = decoded.partition(":")
    return (user, password)


def scrub_error(error: PortalError, request: httpx.Request) -> PortalError:
    """``error`` with every credential ``request`` sent cut out of the texts the vendor
    wrote: some APIs repeat the key they were sent in their error message, and an error
    message ends up in logs."""
    # Longest first: a whole "Bearer <key>" goes before the key inside it.
    credentials = sorted(sent_credentials(request), key=len, reverse=True)
    if not credentials:
        return error

    def scrub(text: str | None) -> str | None:
        if text is None:
            return None
        for credential in credentials:
            text = text.replace(credential, REDACTED)
        return text

    error.message = scrub(error.message) or ""
    error.vendor_message = scrub(error.vendor_message)
    error.code = scrub(error.code)
    error.args = (error.message,)
    return error
