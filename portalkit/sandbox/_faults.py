"""Fault: one scripted misbehaviour of a vendor's create route.

A Fault is a plain value; ``Sandbox.script(vendor, *faults)`` queues them and each of the
next requests to that vendor's create route takes one. What each does on the wire is in
``_inject.py`` and docs/sandbox.md. Faults also travel as JSON, for the HTTP control
endpoints (``POST /_sandbox/{vendor}/faults``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

FaultKind = Literal[
    "status",
    "delay",
    "drop",
    "reset",
    "malformed",
    "truncated",
    "html",
    "empty",
    "wrong_content_type",
    "missing_fields",
    "oversized",
    "hang",
]
KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]

RetryAfter = int | float | str | None
Body = Mapping[str, Any] | str | bytes | None


def _check_status(instance: Fault, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ValueError(f"Fault: status must be an HTTP status code (100-599), not {value!r}")


@attrs.frozen
class Fault:
    """One scripted answer. Build with the class methods: ``Fault.status(429, retry_after=1)``,
    ``Fault.delay(0.5)``, ``Fault.drop()``, ``Fault.reset()``, ``Fault.malformed()``,
    ``Fault.truncated()``, ``Fault.html(502)``, ``Fault.empty()``,
    ``Fault.wrong_content_type()``, ``Fault.missing_fields()``, ``Fault.oversized()``,
    ``Fault.hang()``."""

    kind: FaultKind
    status_code: int = attrs.field(default=201, validator=_check_status)
    retry_after: RetryAfter = None
    body: Body = attrs.field(default=None, repr=False)
    seconds: float = 0.0
    size: int = 0
    chunked: bool = False

    @classmethod
    def status(cls, code: int, *, retry_after: RetryAfter = None, body: Body = None) -> Fault:
        """Answer ``code`` with the vendor's own error envelope, or with ``body`` (a mapping is
        sent as JSON; str/bytes verbatim as application/json). ``retry_after`` becomes the
        ``Retry-After`` header: a number of seconds, or a str sent verbatim (an HTTP-date)."""
        if retry_after is not None and not isinstance(retry_after, int | float | str):
            raise TypeError("Fault.status: retry_after must be int, float, str or None")
        return cls("status", status_code=code, retry_after=retry_after, body=body)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait ``seconds`` (real time), then answer normally."""
        if seconds < 0:
            raise ValueError("Fault.delay: seconds must not be negative")
        return cls("delay", seconds=float(seconds))

    @classmethod
    def drop(cls) -> Fault:
        """Read the request, then close the connection without sending a byte."""
        return cls("drop")

    @classmethod
    def reset(cls) -> Fault:
        """Send the status line, headers and half the normal body, then reset the
        connection (TCP RST)."""
        return cls("reset")

    @classmethod
    def malformed(cls) -> Fault:
        """201, Content-Type application/json, and a body that is not JSON."""
        return cls("malformed")

    @classmethod
    def truncated(cls) -> Fault:
        """The normal answer, its JSON body cut in half (well-framed HTTP)."""
        return cls("truncated")

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """An HTML error page, as a proxy or load balancer sends."""
        return cls("html", status_code=status)

    @classmethod
    def empty(cls, status: int = 201) -> Fault:
        """``status`` with an empty body (Content-Length: 0)."""
        return cls("empty", status_code=status)

    @classmethod
    def wrong_content_type(cls) -> Fault:
        """The normal answer labelled ``text/plain`` instead of JSON."""
        return cls("wrong_content_type")

    @classmethod
    def missing_fields(cls) -> Fault:
        """201 with a JSON body in the vendor's shape that lacks the required fields."""
        return cls("missing_fields")

    @classmethod
    def oversized(cls, bytes: int = 5_000_000, *, chunked: bool = False) -> Fault:
        """201 with a valid JSON body of about ``bytes`` bytes; Content-Length declared
        unless ``chunked`` (then the size is only found out by reading)."""
        if bytes < 1:
            raise ValueError("Fault.oversized: bytes must be positive")
        return cls("oversized", size=bytes, chunked=chunked)

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer, until the server stops or the sandbox is
        reset; then close the connection."""
        return cls("hang")

    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by ``POST /_sandbox/{vendor}/faults``."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind in ("status", "html", "empty"):
            data["status"] = self.status_code
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        if isinstance(self.body, bytes):
            data["body"] = self.body.decode("utf-8", "replace")
        elif self.body is not None:
            data["body"] = self.body if isinstance(self.body, str) else dict(self.body)
        if self.kind == "delay":
            data["seconds"] = self.seconds
        if self.kind == "oversized":
            data["bytes"] = self.size
            data["chunked"] = self.chunked
        return data

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """A Fault from its JSON form; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object with a 'kind'")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        try:
            fault: Fault = _BUILDERS[kind](data)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"fault {kind!r}: bad or missing field ({exc})") from None
        return fault

    def describe(self) -> str:
        """A short human description, for ``describe()`` and error messages."""
        return json.dumps(self.to_json(), separators=(",", ":"))


_BUILDERS: dict[str, Callable[[dict[str, Any]], Fault]] = {
    "status": lambda d: Fault.status(
        int(d["status"]), retry_after=d.get("retry_after"), body=d.get("body")
    ),
    "delay": lambda d: Fault.delay(float(d["seconds"])),
    "drop": lambda d: Fault.drop(),
    "reset": lambda d: Fault.reset(),
    "malformed": lambda d: Fault.malformed(),
    "truncated": lambda d: Fault.truncated(),
    "html": lambda d: Fault.html(int(d.get("status", 502))),
    "empty": lambda d: Fault.empty(int(d.get("status", 201))),
    "wrong_content_type": lambda d: Fault.wrong_content_type(),
    "missing_fields": lambda d: Fault.missing_fields(),
    "oversized": lambda d: Fault.oversized(
        int(d.get("bytes", 5_000_000)), chunked=bool(d.get("chunked", False))
    ),
    "hang": lambda d: Fault.hang(),
}
