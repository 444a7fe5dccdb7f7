"""``python -m bench.webhooks``: the cost of verifying one webhook delivery, portalkit against
each official SDK's own verifier, and write the table into docs/performance.md.

Each vendor's delivery is its first example case (tests/webhook_events/<vendor>/: the
vendor's own example payload), signed now with a made-up secret. Per vendor, two figures:

- ``verify``: portalkit's signature check alone (the vendor's declared scheme), against the
  SDK's verifier where there is one (stripe's ``WebhookSignature.verify_header``,
  paddle-python-sdk's ``Verifier().verify``, Standard Webhooks' ``Webhook.verify`` for
  Polar, whose own ``validate_event`` also builds its typed payload);
- ``parse``: ``Webhooks.parse``, the whole job (size limit, signature, JSON, the
  normalized event), against the SDK's call that verifies and parses (stripe's
  ``Webhook.construct_event``, polar-sdk's ``validate_event``; Paddle's SDK only verifies).

Interleaved A/B rounds (bench/_stats.py); the figure is portalkit's median over the SDK's.
``--quick`` for a smoke run, ``--no-write`` to only print.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalkit import Webhooks, available_webhook_providers
from portalkit._webhooks import _lower_headers

from ._stats import Comparison, interleave

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
CASES = ROOT / "tests" / "webhook_events"
BEGIN = (
    "<!-- bench:begin webhooks (written by `python -m bench.webhooks`;"
    " edits inside are overwritten) -->"
)
END = "<!-- bench:end webhooks -->"
SECRET = "whsec_" + base64.b64encode(b"portalkit-bench-secret-32-bytes!").decode()


@dataclass(frozen=True)
class Delivery:
    vendor: str
    hooks: Webhooks
    headers: dict[str, str]
    body: bytes


def delivery(vendor: str) -> Delivery:
    case = json.loads(sorted((CASES / vendor).glob("*.json"))[0].read_text())
    body = json.dumps(case["payload"], separators=(",", ":")).encode()
    hooks = _hooks(vendor)
    headers = {
        **case.get("headers", {}),
        **hooks.sign(body, timestamp=int(time.time()), delivery_id=case.get("delivery_id")),
    }
    return Delivery(vendor, hooks, headers, body)


def _hooks(vendor: str) -> Webhooks:
    from portalkit import BasicPair, get_vendor_webhooks

    scheme = get_vendor_webhooks(vendor).signature
    secret: Any = SECRET if "webhook_secret" in scheme.fields else BasicPair("bench", SECRET)
    return Webhooks(vendor, secrets=[secret], tolerance=3600)


def sdk_verifiers(d: Delivery) -> dict[str, Callable[[], object]]:
    """The SDK's verify (``verify``) and verify-and-parse (``parse``), where it has them."""
    text = d.body.decode()
    if d.vendor == "stripe":
        import stripe

        header = d.headers["Stripe-Signature"]
        return {
            "verify": lambda: stripe.WebhookSignature.verify_header(text, header, SECRET, 3600),
            "parse": lambda: stripe.Webhook.construct_event(text, header, SECRET, 3600),
        }
    if d.vendor == "paddle":
        from paddle_billing.Notifications import Secret, Verifier

        class Request:
            def __init__(self) -> None:
                self.headers = d.headers
                self.body = d.body

        verifier, secret, request = Verifier(maximum_variance=3600), Secret(SECRET), Request()
        return {"verify": lambda: verifier.verify(request, secret)}
    if d.vendor == "polar":
        import standardwebhooks
        from polar.v2027_01.webhooks import validate_event

        # Polar signs with its secret's raw bytes; Standard Webhooks decodes a whsec_ secret
        # as base64, so it is handed the base64 of the raw bytes (what Polar's SDK did).
        generic = standardwebhooks.Webhook(base64.b64encode(SECRET.encode()).decode())
        return {
            "verify": lambda: generic.verify(d.body, d.headers),
            "parse": lambda: validate_event(d.body, d.headers, SECRET),
        }
    return {}


def portalkit_sides(d: Delivery) -> dict[str, Callable[[], object]]:
    scheme = d.hooks.vendor.signature
    secrets = d.hooks._secrets
    lowered = _lower_headers(d.headers)
    return {
        "verify": lambda: scheme.verify(
            lowered, d.body, secrets, now=time.time(), tolerance=3600, provider=d.vendor
        ),
        "parse": lambda: d.hooks.parse(d.headers, d.body),
    }


def measure(quick: bool) -> list[tuple[str, str, Comparison | None, float]]:
    calls, rounds = (50, 3) if quick else (2_000, 15)
    rows: list[tuple[str, str, Comparison | None, float]] = []
    for vendor in available_webhook_providers():
        d = delivery(vendor)
        ours = portalkit_sides(d)
        theirs = sdk_verifiers(d)
        for figure in ("verify", "parse"):
            if figure in theirs:
                # Both must accept the delivery, or the figure compares an error path.
                ours[figure]()
                theirs[figure]()
                comparison = interleave(ours[figure], theirs[figure], calls=calls, rounds=rounds)
                rows.append((vendor, figure, comparison, comparison.median_a))
            else:
                alone = interleave(ours[figure], ours[figure], calls=calls, rounds=rounds)
                rows.append((vendor, figure, None, alone.median_a))
    return rows


def markdown(rows: list[tuple[str, str, Comparison | None, float]], command: str) -> str:
    lines = [
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')}, Python"
        f" {sys.version.split()[0]}. Target: no slower than the vendor's SDK (ratio <= 1.00).",
        "",
        "| Vendor | Figure | portalkit µs | SDK µs | Ratio (IQR) | Target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for vendor, figure, comparison, ours in rows:
        if comparison is None:
            lines.append(f"| {vendor} | {figure} | {ours * 1e6:.1f} | no SDK verifier | — | — |")
            continue
        low, high = comparison.spread
        met = "met" if comparison.ratio <= 1.0 else "missed"
        lines.append(
            f"| {vendor} | {figure} | {comparison.median_a * 1e6:.1f} |"
            f" {comparison.median_b * 1e6:.1f} | {comparison.ratio:.2f}"
            f" ({low:.2f}-{high:.2f}) | {met} |"
        )
    return "\n".join(lines) + "\n"


def write_into(page: Path, block: str) -> None:
    text = page.read_text(encoding="utf-8")
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"{page} needs the markers {BEGIN!r} and {END!r}")
    page.write_text(text[: start + len(BEGIN)] + "\n\n" + block + "\n" + text[stop:], "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds and small counts")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    parser.add_argument("--output", type=Path, default=DOCS, help="default: %(default)s")
    args = parser.parse_args(argv)
    command = "python -m bench.webhooks" + (" --quick" if args.quick else "")
    report = markdown(measure(args.quick), command)
    print(report)
    if not args.no_write:
        write_into(args.output, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
