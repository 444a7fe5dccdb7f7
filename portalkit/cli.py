"""The ``portalkit`` command line.

    portalkit demo                          mint a link with each adapter against the
                                            embedded sandbox, cancel in each portal page and
                                            show the webhooks that come back: no
                                            credentials, no network
    portalkit sandbox [--host H] [--port N] [--forward-to URL]
                                            serve the vendor emulator until Ctrl-C; with
                                            --forward-to, send each vendor's webhooks to
                                            URL/<vendor>
    portalkit link [--provider NAME] --customer ID [--external-customer]
                   [--return-url URL] [--subscription ID ...] [--flow ACTION[:SUBSCRIPTION]]
                   [--base-url URL] [--deep-links] [--json]
                                            mint one real link with credentials from the
                                            environment and print it, once, to stdout
                                            (NAME defaults to $PORTALKIT_PROVIDER); with
                                            --deep-links its deep links too, with --json
                                            all of it as one JSON object
    portalkit --version                     print portalkit's version
    portalkit webhook verify [--provider NAME] [--at UNIX_TIME] < delivery
                                            check a saved webhook delivery with the secret
                                            from the environment; print the event as JSON

Exit status: 0 on success, 1 when the vendor (or the demo) failed or a webhook delivery was
rejected, 2 for a usage error, a
missing or malformed setting, or a request that is invalid before anything is sent.

A portal URL is a bearer credential, and so is each deep link: only ``link`` prints them, to
stdout, once. Everything else here shows links redacted to their scheme and host.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from . import __version__, errors
from . import _validation as check
from ._env import variable_prefix
from ._http import httpx
from ._models import Action, CustomerIdKind, Flow, PortalLink, PortalRequest
from ._portal import Portal
from ._redact import REDACTED, redact_url
from ._registry import get_provider_factory, provider_from_env, provider_name
from ._webhook_cli import add_parser as add_webhook_parser

if TYPE_CHECKING:
    from .sandbox import Sandbox

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DEMO_RETURN_URL = "https://app.example.com/account/billing"
DEMO_LOCALE = "fr"
SANDBOX_EXTRA_HINT = (
    "the sandbox needs the 'sandbox' extra: pip install './portalkit[sandbox]' from a clone,"
    " or '<wheel>[sandbox]' (not on PyPI yet)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portalkit",
        description="Customer-portal links across billing vendors.",
    )
    parser.add_argument("--version", action="version", version=f"portalkit {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, dest="command")

    demo = commands.add_parser(
        "demo",
        help="mint a link with each adapter against the embedded sandbox",
        description="Start the sandbox in-process, mint a portal link with each vendor's "
        "adapter through the public API, and show that each link opens once; then cancel a "
        "subscription in each vendor's portal page and show the vendor's webhooks that come "
        "back, verified and normalized. No credentials, no network.",
    )
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the vendor emulator for your own integration tests",
        description="Serve the emulator of every registered vendor until Ctrl-C, and print "
        "its URL, credentials and customers.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    sandbox.add_argument(
        "--forward-to",
        metavar="URL",
        help="send each vendor's webhooks (its portal buttons, POST /_sandbox/<vendor>/webhooks"
        "/trigger) to URL/<vendor>, e.g. http://127.0.0.1:8000/webhooks",
    )
    sandbox.set_defaults(handler=_sandbox)

    link = commands.add_parser(
        "link",
        help="mint one real portal link with credentials from the environment",
        description="Mint one portal link and print its URL to stdout. Credentials come "
        "from the provider's environment variables (<PROVIDER>_API_KEY and the like: see the "
        "provider's docs page). The URL is a bearer "
        "credential: hand it to the customer, do not store it.",
    )
    link.add_argument(
        "--provider",
        metavar="NAME",
        help="e.g. paddle (default: $PORTALKIT_PROVIDER; any case, as there)",
    )
    link.add_argument(
        "--customer",
        required=True,
        metavar="ID",
        help="the vendor's customer id (the app's own with --external-customer)",
    )
    link.add_argument(
        "--external-customer",
        action="store_true",
        help="--customer is the app's own id for the customer (its user or account id), which"
        " the vendor looks the customer up by; vendors that cannot refuse it before sending",
    )
    link.add_argument("--return-url", metavar="URL", help="where the portal sends them back")
    link.add_argument(
        "--subscription",
        action="append",
        default=[],
        metavar="ID",
        help="mint deep links for this subscription (repeatable; where the vendor supports it)",
    )
    link.add_argument(
        "--flow",
        metavar="ACTION[:SUBSCRIPTION]",
        help="open the portal at one action, for one subscription when given, e.g."
        f" cancel_subscription:sub_123 (ACTION: {', '.join(Action)})",
    )
    link.add_argument(
        "--deep-links",
        action="store_true",
        help="also print the link's deep links to stdout, one a line: action, subscription"
        " (- for the account) and URL, tab-separated; they are bearer credentials too",
    )
    link.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object to stdout: url, session_id, expires_at, deep_links,"
        " ignored_fields (and provider, customer_id)",
    )
    link.add_argument(
        "--base-url",
        metavar="URL",
        help="the vendor API's root, e.g. a sandbox's http://127.0.0.1:8765 "
        "(overrides <PROVIDER>_BASE_URL)",
    )
    link.set_defaults(handler=_link)

    add_webhook_parser(commands)
    return parser


def _fail(command: str, message: str, status: int) -> int:
    print(f"portalkit {command}: {message}", file=sys.stderr)
    return status


class _OptionError(Exception):
    """A command-line option's value is refused: the message names the option (never an
    environment variable the value may be handed on in) and the rule it broke."""

    def __init__(self, option: str, rule: str) -> None:
        super().__init__(f"{option} {rule}")


# -- portalkit link --------------------------------------------------------------------------


def _link(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    base_url_variable = ""
    try:
        # --provider, else PORTALKIT_PROVIDER: one name rule for both, as Portal.from_env.
        name = provider_name(environ, args.provider)
        if args.provider is not None:
            _check_provider_option(name)
        base_url_variable = f"{variable_prefix(name)}_BASE_URL"
        if args.base_url is not None:
            # Checked here, so its error names the option, not the variable it goes in.
            environ[base_url_variable] = _checked_base_url(args.base_url)
        provider = provider_from_env(environ, name=name)
        request = PortalRequest(
            args.customer,
            customer_id_kind=(
                CustomerIdKind.EXTERNAL if args.external_customer else CustomerIdKind.VENDOR
            ),
            return_url=args.return_url,
            subscription_ids=args.subscription,
            flow=_flow(args.flow),
        )
        with Portal(provider) as portal:
            link = portal.create_link(request)
    except _OptionError as exc:
        return _fail("link", str(exc), EXIT_USAGE)
    except errors.ConfigurationError as exc:
        message = exc.message
        if args.base_url is not None and base_url_variable and base_url_variable in message:
            # The value came from --base-url, not the variable (a rule of the adapter's own
            # beyond _checked_base_url's): name the option.
            message = message.replace(base_url_variable, "--base-url")
        return _fail("link", message, EXIT_USAGE)
    except errors.InvalidRequest as exc:
        if exc.status is None:  # refused before sending: name the field and the rule
            return _fail("link", _invalid(exc), EXIT_USAGE)
        return _fail("link", str(exc), EXIT_FAILED)
    except errors.PortalError as exc:
        return _fail("link", str(exc), EXIT_FAILED)
    # The one place a portal URL (and its deep links, bearer credentials too) is printed:
    # stdout only, once, so `$(portalkit link ...)` works. The summary on stderr says nothing
    # of the URLs.
    if args.json:
        print(json.dumps(link_json(link)))
    else:
        print(link.url)
        if args.deep_links:
            for deep in link.deep_links:
                print(f"{deep.action.value}\t{deep.subscription_id or '-'}\t{deep.url}")
    print(f"portalkit link: {_summary(link, args.deep_links or args.json)}", file=sys.stderr)
    return EXIT_OK


def _check_provider_option(name: str) -> None:
    """Refuse a ``--provider`` no installed package registers, naming the option (the
    registry's message names the provider and the nearest registered one)."""
    try:
        get_provider_factory(name)
    except errors.ConfigurationError as exc:
        raise _OptionError("--provider:", exc.message) from None


def _checked_base_url(value: str) -> str:
    """``--base-url``'s value, held to the rule every adapter holds its base URL to."""
    try:
        return check.base_url(value.strip())
    except errors.InvalidRequest as exc:
        raise _OptionError("--base-url", exc.rule or exc.message) from None


def _flow(value: str | None) -> Flow | None:
    """``--flow ACTION[:SUBSCRIPTION]`` as a Flow; InvalidRequest (flow.action,
    flow.subscription_id) for a value Flow refuses."""
    if value is None:
        return None
    action, colon, subscription = value.partition(":")
    return Flow(action, subscription if colon else None)


def link_json(link: PortalLink) -> dict[str, object]:
    """What ``portalkit link --json`` prints: the link's URL and deep links (bearer
    credentials: stdout only), its session, expiry and what the vendor ignored."""
    return {
        "provider": link.provider,
        "customer_id": link.customer_id,
        "url": link.url,
        "session_id": link.session_id,
        "expires_at": None if link.expires_at is None else link.expires_at.isoformat(),
        "deep_links": [
            {"action": deep.action.value, "subscription_id": deep.subscription_id, "url": deep.url}
            for deep in link.deep_links
        ],
        "ignored_fields": list(link.ignored_fields),
    }


_OPTION_OF_FIELD = {
    "customer_id": "--customer",
    "customer_id_kind": "--external-customer",
    "return_url": "--return-url",
    "subscription_ids": "--subscription",
    "flow": "--flow",
}


def _invalid(exc: errors.InvalidRequest) -> str:
    field = exc.field or "request"
    option = _OPTION_OF_FIELD.get(field.split("[")[0].split(".")[0])
    where = f"{field} ({option})" if option else field
    return f"invalid {where}: {exc.rule or exc.message}"


def _summary(link: PortalLink, deep_links_printed: bool = False) -> str:
    parts = [f"{link.provider} portal link minted for {link.customer_id}"]
    parts.append(f"expires {_when(link)}")
    if link.deep_links:
        shown = "on stdout" if deep_links_printed else "not printed: --deep-links prints them"
        parts.append(f"{len(link.deep_links)} deep links ({shown})")
    if link.ignored_fields:
        parts.append(f"{link.provider} ignored: {', '.join(link.ignored_fields)}")
    return "; ".join(parts)


def _when(link: PortalLink) -> str:
    if link.expires_at is None:
        return "at a time the vendor does not report"
    return link.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")


# -- portalkit sandbox -----------------------------------------------------------------------


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C (a test replaces this to stop the server)."""
    while True:
        time.sleep(3600)


class _Terminated(Exception):
    """SIGTERM arrived: stop the way Ctrl-C does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _sandbox(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        return _fail("sandbox", f"--port must be between 0 and 65535, not {args.port}", EXIT_USAGE)
    host_problem = _listen_host_problem(args.host)
    if host_problem is not None:
        return _fail("sandbox", f"--host {host_problem}", EXIT_USAGE)
    sandbox_class = _load_sandbox("sandbox")
    if sandbox_class is None:
        return EXIT_USAGE
    forward_problem = _forward_to_problem(args.forward_to)
    if forward_problem is not None:
        return _fail("sandbox", f"--forward-to: {forward_problem}", EXIT_USAGE)
    sandbox = sandbox_class()
    try:
        forwarded = _forward_webhooks(sandbox, args.forward_to)
    except ValueError as exc:
        return _fail("sandbox", f"--forward-to: {exc}", EXIT_USAGE)
    # SIGTERM (docker stop, systemd, a CI runner) stops the server as Ctrl-C does: the socket
    # closed, hanging requests released, exit status 0. Only the main thread may set it.
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        # The signal may come at any point, even while the banner is printed: the ExitStack
        # stops the server on the way out either way.
        with ExitStack() as stack:
            try:
                stack.enter_context(sandbox.serve(host=args.host, port=args.port))
            except (OSError, OverflowError, ValueError) as exc:
                return _fail(
                    "sandbox",
                    f"cannot listen on {args.host}:{args.port} (--host, --port): {exc}",
                    EXIT_USAGE,
                )
            print(sandbox.describe(), flush=True)
            if forwarded:
                _print_forwarding(forwarded)
            print("\nServing until Ctrl-C.", flush=True)
            _wait_for_interrupt()
    except (KeyboardInterrupt, _Terminated):
        print("\nportalkit sandbox: stopped.", file=sys.stderr, flush=True)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


#: A DNS host name: dot-separated labels of letters, digits and inner hyphens.
_HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


def _listen_host_problem(host: str) -> str | None:
    """Why ``--host`` cannot be listened on, or None: an IP address or a host name, not a URL
    (a scheme or a port there is a common slip, and the socket error would not say so)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            return (
                "must be an IP address or a host name to listen on (e.g. 127.0.0.1, 0.0.0.0,"
                " ::1, localhost), without a scheme or a port: the port is --port"
            )
    return None


def _forward_to_problem(url: str | None) -> str | None:
    """Why ``--forward-to`` cannot be the root of the vendors' endpoints, or None. The
    vendor's name is appended to its path, so a query or a fragment would swallow it."""
    if url is None:
        return None
    from .sandbox._deliveries import endpoint_url_problem  # the sandbox's own URL rule

    problem = endpoint_url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "must not contain a query or fragment: each vendor's name is appended to its path"
    return None


def _forward_webhooks(sandbox: Sandbox, url: str | None) -> dict[str, str]:
    """Register ``url/<vendor>`` for every twin that sends webhooks: {vendor: endpoint}.
    ValueError (from the sandbox) for a URL that cannot be an endpoint."""
    if url is None:
        return {}
    forwarded = {}
    for vendor in sandbox.vendors:
        if sandbox.twin(vendor).webhooks is not None:
            endpoint = f"{url.rstrip('/')}/{vendor}"
            sandbox.add_webhook_endpoint(vendor, endpoint)
            forwarded[vendor] = endpoint
    return forwarded


def _print_forwarding(forwarded: dict[str, str]) -> None:
    print("\nWebhooks are forwarded (verify them with the `webhooks:` variables above):")
    for vendor, endpoint in forwarded.items():
        print(f"  {vendor:<14}-> {endpoint}")
    print(
        "Send some: a button on a portal page, or POST /_sandbox/<vendor>/webhooks/trigger"
        ' {"change": "subscription_cancel_scheduled"}.',
        flush=True,
    )


def _load_sandbox(command: str) -> type[Sandbox] | None:
    try:
        from .sandbox import Sandbox
    except ImportError:
        _fail(command, SANDBOX_EXTRA_HINT, EXIT_USAGE)
        return None
    return Sandbox


# -- portalkit demo --------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    sandbox_class = _load_sandbox("demo")
    if sandbox_class is None:
        return EXIT_USAGE
    out = sys.stdout
    sandbox = sandbox_class()
    with sandbox.serve(host="127.0.0.1", port=0):
        print(
            f"portalkit demo: the sandbox is serving at {sandbox.url} (in this process).", file=out
        )
        print(
            "Minting one link per vendor through the public API (Portal + PortalRequest), with\n"
            f"return_url={DEMO_RETURN_URL!r}, locale={DEMO_LOCALE!r} and deep links for the\n"
            "customer's subscriptions; each vendor keeps what it supports and the link lists\n"
            "what it ignored.\n",
            file=out,
        )
        links: list[PortalLink] = []
        for vendor in sandbox.vendors:
            customer = sandbox.customers(vendor)[0]
            request = PortalRequest(
                customer,
                return_url=DEMO_RETURN_URL,
                locale=DEMO_LOCALE,
                subscription_ids=sandbox.subscriptions(vendor, customer),
            )
            try:
                with Portal(sandbox.provider(vendor)) as portal:
                    links.append(portal.create_link(request))
            except errors.PortalError as exc:
                return _fail("demo", f"{vendor}: {exc}", EXIT_FAILED)
        _print_table(links, out)
        print(
            "\nEach link works once, or until it expires where the vendor's links are"
            " reusable (what a customer's browser does with it):",
            file=out,
        )
        from ._demo_loop import Browser, cancel_in_each_portal

        ok = True
        browsers: dict[str, Browser] = {}
        # Through the transport, not an httpx.Client: the client logs every request's URL
        # at INFO, and for some vendors (Paylera) a link's path is its credential.
        with httpx.HTTPTransport() as transport:
            for link in links:
                browser = browsers[link.provider] = Browser(transport)
                first, second = browser.open_twice(link.url)
                # A single-use link is gone on its second visit; a reusable one (the twin
                # says which: Twin.single_use_links) opens again until it expires.
                again = 410 if sandbox.twin(link.provider).single_use_links else 200
                ok = ok and first == 200 and second == again
                print(
                    f"  {link.provider:<13} first visit: {_status(first):<14}"
                    f"second visit: {_status(second)}",
                    file=out,
                )
            # The way back: cancel in each portal page, print the webhooks that came back.
            came_back = cancel_in_each_portal(sandbox, browsers, out)
    print("\nDone: no credentials, no network; the sandbox has stopped.", file=out)
    if not ok:
        return _fail("demo", "a link did not open as its vendor's links do", EXIT_FAILED)
    if not came_back:
        return _fail(
            "demo", "a cancellation did not come back as its vendor's webhooks", EXIT_FAILED
        )
    return EXIT_OK


def _status(code: int) -> str:
    return f"{code} {httpx.codes.get_reason_phrase(code)}".strip()


def _print_table(links: Sequence[PortalLink], out: TextIO) -> None:
    """One row per link; a cell may span lines (the deep links, one action per line)."""
    header = ["vendor", "session id", "expires at (UTC)", "deep links", "vendor ignored"]
    rows: list[list[list[str]]] = [[[cell] for cell in header]]
    for link in links:
        expires = link.expires_at.strftime("%Y-%m-%d %H:%M:%S") if link.expires_at else None
        rows.append(
            [
                [link.provider],
                [_shown_session_id(link)],
                [expires or "not reported"],
                _deep_links(link),
                [", ".join(link.ignored_fields) or "-"],
            ]
        )
    widths = [max(len(line) for row in rows for line in row[col]) for col in range(len(header))]
    for index, row in enumerate(rows):
        for depth in range(max(len(cell) for cell in row)):
            cells = [cell[depth] if depth < len(cell) else "" for cell in row]
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            print(line.rstrip(), file=out)
        if index == 0:
            print("  ".join("-" * width for width in widths), file=out)
    print(
        f"\nLinks: {', '.join(sorted({_redacted(link.url) for link in links}))}"
        " -- the full links are bearer credentials: never printed, never logged.",
        file=out,
    )
    if any(_shown_session_id(link) != link.session_id for link in links):
        print(
            "A session id that is part of its link's URL is shortened: for some vendors"
            " (Paylera) it is the link's credential.",
            file=out,
        )


def _redacted(url: str) -> str:
    return redact_url(url).strip("'")  # redact_url gives a repr, quotes included


def _shown_session_id(link: PortalLink) -> str:
    if link.session_id and link.session_id in urlsplit(link.url).path:
        return f"{link.session_id[:7]}...{REDACTED}"
    return link.session_id


def _deep_links(link: PortalLink) -> list[str]:
    """``["1 overview", "2 cancel_subscription", ...]``: how many links open each action."""
    counts = Counter(deep.action.value for deep in link.deep_links)
    return [f"{count} {action}" for action, count in counts.items()] or ["none"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
