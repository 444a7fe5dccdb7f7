"""Showing a portal URL without its credential.

Vendors put the bearer token in different places: Plugipay in the ``#t=`` fragment, Paddle
in a ``token=`` query parameter, Paylera in the path itself (``/p/ps_...``). So a redacted URL
keeps only the scheme and host, which is enough to tell which portal a link points at.
"""

from __future__ import annotations

from urllib.parse import urlsplit

REDACTED = "<redacted>"


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
        return f"{session_id[:7]}…"
    return session_id
