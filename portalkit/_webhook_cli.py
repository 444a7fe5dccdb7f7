"""``portalkit webhook verify``: check a saved delivery with the secret from the environment.

A saved delivery is the HTTP request as received: an optional request line, the header
lines, an empty line, then the body exactly as it came (no newline added: a byte more is a
different body, and its signature fails)::

    POST /hooks/stripe HTTP/1.1
    Stripe-Signature: t=1767225600,v1=5257a869...
    Content-Type: application/json

    {"id": "evt_...", ...}

The normalized event is printed as JSON, without ``raw`` (which holds customer data); a
rejection prints its reason, never the secret, the signature or the body.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import BinaryIO

from . import errors
from ._registry import normalize_provider_name
from ._webhooks import DEFAULT_MAX_BODY_BYTES, Webhooks, get_vendor_webhooks

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
# Headers are small; a saved delivery whose head runs past this is not one.
_MAX_HEAD_BYTES = 64 * 1024
_REQUEST_LINE = re.compile(r"[A-Z]+ \S+ HTTP/\d(?:\.\d)?")  # POST /hooks HTTP/1.1


class SavedDeliveryError(ValueError):
    """The input is not a saved delivery (headers, an empty line, the body)."""


def read_saved_delivery(data: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and the exact body of a saved delivery."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = data.partition(separator)
        if found and len(head) <= _MAX_HEAD_BYTES:
            break
    else:
        raise SavedDeliveryError("no empty line between the headers and the body")
    lines = head.decode("latin-1").splitlines()
    if lines and _REQUEST_LINE.fullmatch(lines[0]):
        lines = lines[1:]
    headers: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise SavedDeliveryError(f"header line {number} is not 'Name: value'")
        headers[name] = value.strip()
    return headers, body


def unix_time(value: str) -> float:
    """``--at``'s value: seconds since the epoch. ``float()`` alone would take ``nan`` (every
    comparison false: no timestamp ever too old) and ``inf``."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError("must be a Unix time in seconds, a number 0 or more")
    return seconds


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhook = commands.add_parser(
        "webhook",
        help="check a vendor's webhook deliveries",
        description="Check webhook deliveries with the secret from the environment.",
    )
    actions = webhook.add_subparsers(title="actions", required=True, dest="action")
    verify = actions.add_parser(
        "verify",
        help="verify a saved delivery read from stdin and print the normalized event",
        description="Read a saved delivery (headers, an empty line, the raw body) from stdin, "
        "verify it with the vendor's webhook variables (<VENDOR>_WEBHOOK_SECRET, or its "
        "scheme's own) and print the normalized event as JSON, without its raw payload.",
    )
    verify.add_argument(
        "--provider", metavar="NAME", help="e.g. stripe (default: $PORTALKIT_PROVIDER)"
    )
    verify.add_argument(
        "--at",
        type=unix_time,
        metavar="UNIX_TIME",
        help="check the timestamp as of this time (a delivery saved earlier is stale now)",
    )
    verify.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace, stdin: BinaryIO | None = None) -> int:
    source = sys.stdin.buffer if stdin is None else stdin
    if args.provider is not None:
        try:  # the name alone first, so that its error names the option
            get_vendor_webhooks(normalize_provider_name(args.provider))
        except errors.ConfigurationError as exc:
            return _fail(f"--provider: {exc.message}", EXIT_USAGE)
    try:
        hooks = Webhooks.from_env(os.environ, provider=args.provider)
    except errors.ConfigurationError as exc:
        return _fail(exc.message, EXIT_USAGE)
    data = source.read(DEFAULT_MAX_BODY_BYTES + _MAX_HEAD_BYTES + 1)
    try:
        headers, body = read_saved_delivery(data)
    except SavedDeliveryError as exc:
        return _fail(f"not a saved delivery: {exc}", EXIT_USAGE)
    try:
        event = hooks.parse(headers, body, now=args.at)
    except errors.WebhookRejected as exc:
        return _fail(f"rejected ({exc.reason.value}): {exc.message}", EXIT_REJECTED)
    print(json.dumps(event.summary(), indent=2))
    return EXIT_OK


def _fail(message: str, status: int) -> int:
    print(f"portalkit webhook verify: {message}", file=sys.stderr)
    return status
