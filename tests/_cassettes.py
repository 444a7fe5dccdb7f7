"""Recording and replaying the vendor cassettes (each ``tests/test_<vendor>.py`` that sets
``VENDOR`` and ``CASSETTE_IDS``). How to re-record: docs/cassettes.md.

A cassette test runs in one of three modes, chosen per vendor from the environment:

``replay``   the default, and always when ``CI=true``: every HTTP exchange comes from
             cassettes/<vendor>/<test>.yaml. No server, no network: sockets are blocked.
``sandbox``  ``PORTALKIT_RECORD=1``: the test runs against ``portalkit.sandbox`` over real
             loopback HTTP and its exchanges replace the cassette.
``live``     ``PORTALKIT_RECORD=1`` and the vendor's credentials in the environment: the
             same, against the vendor's own API (see ``live_env``). A test marked
             ``sandbox_only`` (it needs fault injection) or ``live_needs(VAR, ...)`` (it needs
             a credential that is not set) replays its sandbox cassette instead.

Requests match on method + path + the body as parsed JSON -- never the host or port: the
sandbox listens on a new port every run, and replay has no server at all. Secrets are
scrubbed when an exchange is recorded, before it is written (``Scrubber``), and
tests/test_cassette_hygiene.py fails when ``find_secrets`` still finds one in a cassette.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from _vendors import VENDORS, adapter, twin

from portalkit import PortalProvider, ProviderEnv, RetryPolicy
from portalkit._http import httpx
from portalkit._registry import get_provider_factory

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"

#: The base URL every provider uses in replay. Port 9 (discard) on loopback: nothing listens
#: there, so a request that somehow escaped its cassette fails at once with "connection
#: refused" instead of reaching a server. Sandbox recordings are rewritten to it too, so a
#: cassette does not change with the sandbox's port from one recording to the next.
REPLAY_BASE_URL = "http://127.0.0.1:9"

#: Retries without sleeping: the tests check what is retried and with which key, not timing.
FAST_RETRY = RetryPolicy(backoff_initial=0, retry_after_cap=0)

#: What replaces a secret in a cassette; numbered, so two different tokens stay different.
PLACEHOLDER = "scrubbed"

Mode = Literal["replay", "sandbox", "live"]


@dataclass(frozen=True)
class Ids:
    """The ids a vendor's cassette tests use. Canonical values are fixed (a replayed request
    must match the recorded one); a live recording maps the real ids onto them."""

    customer: str
    subscriptions: tuple[str, ...] = ()
    #: Well-formed, and known to no account: the 404 tests.
    unknown_customer: str = ""


def live_env(vendor: str) -> dict[str, tuple[str, ...]]:
    """The environment a live recording of ``vendor`` reads, named from its twin's
    ``from_env`` fields: "credentials" (the first one switches the vendor to live mode; the
    rest are required once it is set), "ids" (the test account's customer, and its
    subscriptions when the cassettes use some) and "optional" (``<VENDOR>_BASE_URL``, the
    twin's environment fields such as ``PADDLE_ENVIRONMENT``, and the ``<VENDOR>_NO_SCOPE_*``
    credentials of the 403 tests)."""
    found = twin(vendor)
    env = ProviderEnv(vendor, {})
    valid = tuple(found.credentials["valid"])
    ids = [env.variable("test_customer_id"), env.variable("test_subscription_ids")]
    return {
        "credentials": tuple(env.variable(name) for name in valid),
        "ids": tuple(ids),
        "optional": (
            *(env.variable(name) for name in found.environment),
            env.variable("base_url"),
            *(env.variable(f"no_scope_{name}") for name in valid),
        ),
    }


def recording_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """PORTALKIT_RECORD=1 asks for a recording; CI=true refuses it, whatever else is set."""
    if environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return False
    return environ.get("PORTALKIT_RECORD", "").strip().lower() in ("1", "true", "yes")


def vendor_mode(vendor: str, environ: Mapping[str, str] = os.environ) -> Mode:
    """How ``vendor``'s cassette tests run in this process (before per-test markers)."""
    if not recording_requested(environ):
        return "replay"
    return "live" if environ.get(live_env(vendor)["credentials"][0]) else "sandbox"


# -- scrubbing: applied to each exchange before it is written ---------------------------------

#: Request headers that carry a credential: these, and each twin's ``secret_headers``.
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization"}
    | {name.lower() for vendor in VENDORS for name in twin(vendor).secret_headers}
)
#: What of a secret header's value a cassette keeps: its scheme (``Bearer ``, ``Basic ``) or a
#: signature's version (``v1=``), then the placeholder.
_HEADER_SCHEME = re.compile(r"^(?:[A-Za-z]+ |v\d+=)")


def header_placeholder(value: str) -> str:
    """What a cassette holds for a secret header's ``value``: ``Bearer scrubbed``,
    ``v1=scrubbed``, ``scrubbed``."""
    scheme = match.group(0) if (match := _HEADER_SCHEME.match(value)) else ""
    return f"{scheme}{PLACEHOLDER}"


# Where each vendor puts a portal URL's bearer token: Plugipay in the #t= fragment, Paddle in
# the token= query parameter, Paylera in the path itself (/p/<token>), Polar in the
# customer_session_token= query parameter.
_URL_TOKENS = (
    re.compile(r"#t=(?P<token>[^\"'\s&#]+)"),
    re.compile(r"[?&]token=(?P<token>[^\"'\s&#]+)"),
    re.compile(r"/p/(?P<token>[^\"'\s/?#]+)"),
    re.compile(r"[?&]customer_session_token=(?P<token>[^\"'\s&#]+)"),
)
# ... and wherever each registered twin says its links carry one (Twin.url_secrets).
_TWIN_URL_TOKENS = tuple(
    re.compile(pattern) for vendor in VENDORS for pattern in twin(vendor).url_secrets
)
_URL_TOKENS += _TWIN_URL_TOKENS
_PREFIX = re.compile(r"^[A-Za-z]{2,5}_")

#: What replaces the n-th e-mail address: a reserved domain (RFC 2606), so it is no one's.
EMAIL_PLACEHOLDER_DOMAIN = "example.invalid"
# An e-mail address as text holds it, plain or percent-encoded in a URL's query (Polar's
# portal URL carries the customer's as email=alice%40example.com). The look-behind keeps a
# match from starting inside a longer local part.
# A percent-encoded character in the local part (``jane%2Bbilling%40...``, how a URL's
# query writes ``jane+billing@...``) is part of the address too.
_EMAIL_BODY = (
    r"(?<![A-Za-z0-9._%+-])(?P<local>(?:[A-Za-z0-9._+-]|%[0-9A-Fa-f]{2})+?)(?P<at>@|%40)"
    r"(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"
)
_EMAIL = re.compile(_EMAIL_BODY)


@dataclass
class Scrubber:
    """The before_record_request / before_record_response hooks of one cassette.

    ``rewrites`` maps text that must not reach the cassette onto what replaces it: the
    sandbox's address onto REPLAY_BASE_URL, a live account's real ids onto the canonical
    ones. Portal tokens become ``scrubbed1``, ``scrubbed2``... (keeping a ``pga_``-style
    prefix): the same token always gets the same placeholder, so a test can still tell two
    sessions apart and see that an idempotent replay returned the same one.
    """

    rewrites: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)
    _emails: dict[str, str] = field(default_factory=dict)

    def placeholder(self, token: str) -> str:
        if token not in self._tokens:
            prefix = match.group(0) if (match := _PREFIX.match(token)) else ""
            self._tokens[token] = f"{prefix}{PLACEHOLDER}{len(self._tokens) + 1}"
        return self._tokens[token]

    def as_recorded(self, value: str) -> str:
        """``value`` as the cassette holds it (a token's placeholder, a rewritten id)."""
        return self._tokens.get(value) or self.text(value)

    def text(self, text: str) -> str:
        for old, new in self.rewrites.items():
            text = text.replace(old, new)
        found = sorted(
            (match.start(), match.group("token"))
            for pattern in _URL_TOKENS
            for match in pattern.finditer(text)
        )
        # Numbered in order of appearance; replaced longest first, so a token that contains
        # another goes whole. Every occurrence goes, not only the one in the URL: Paylera's
        # session id can be its URL's token.
        tokens = [token for _, token in found if PLACEHOLDER not in token]
        placeholders = {token: self.placeholder(token) for token in tokens}
        for token in sorted(placeholders, key=len, reverse=True):
            text = text.replace(token, placeholders[token])
        return _EMAIL.sub(self._email, text)

    def _email(self, match: re.Match[str]) -> str:
        """An e-mail address (personal data) becomes ``scrubbedN@example.invalid``, the same
        address always the same N, in the form it was written (``@`` or ``%40``)."""
        if match.group("domain").lower() == EMAIL_PLACEHOLDER_DOMAIN:
            return match.group(0)
        # Decoded, so the URL's jane%2Bbilling%40... and the body's jane+billing@... are one.
        address = f"{unquote(match.group('local'))}@{match.group('domain')}".lower()
        if address not in self._emails:
            self._emails[address] = f"{PLACEHOLDER}{len(self._emails) + 1}"
        return f"{self._emails[address]}{match.group('at')}{EMAIL_PLACEHOLDER_DOMAIN}"

    def request(self, request: Any) -> Any:
        """vcrpy before_record_request: also run on each replayed request before matching, so
        it must keep method, path and body as they would have been recorded."""
        request = copy.deepcopy(request)
        request.uri = self.text(request.uri)
        for name in list(request.headers):
            if name.lower() in SECRET_HEADERS:
                request.headers[name] = header_placeholder(str(request.headers[name]))
            else:  # e.g. Host, which names the sandbox's port of the day
                request.headers[name] = self.text(str(request.headers[name]))
        if request.body:
            body = request.body
            text = body.decode() if isinstance(body, bytes) else str(body)
            request.body = self.text(text).encode()
            if "content-length" in request.headers:  # a rewritten id may change the length
                request.headers["content-length"] = str(len(request.body))
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy before_record_response (the response as the dict vcrpy serializes)."""
        response = copy.deepcopy(response)
        headers: dict[str, list[str]] = response["headers"]
        for name in list(headers):
            if name.lower() == "set-cookie":
                del headers[name]
            else:
                headers[name] = [self.text(value) for value in headers[name]]
        body = response["body"]["string"]
        if body:
            text = body.decode() if isinstance(body, bytes) else str(body)
            scrubbed = self.text(text).encode()
            response["body"]["string"] = scrubbed
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(scrubbed))]
        return response


# -- matching ----------------------------------------------------------------------------------


def _parsed_body(body: object) -> object:
    if body is None or body in (b"", ""):
        return None
    if not isinstance(body, bytes | str):
        return body
    try:
        return json.loads(body)
    except ValueError:
        return body


def json_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the bodies are equal as parsed JSON (key order and spacing ignored);
    a body that is not JSON is compared as it is."""
    left, right = _parsed_body(r1.body), _parsed_body(r2.body)
    if left != right:
        raise AssertionError(f"request bodies differ: {left!r} != {right!r}")


MATCH_ON = ("method", "path", "json_body")


# -- the secret scanner ------------------------------------------------------------------------

#: Text that must never appear in a cassette, with the reason the scanner reports.
_SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Plugipay portal token (#t=)", re.compile(rf"#t=(?![A-Za-z]*_?{PLACEHOLDER}\d)[^\s\"'&]+")),
    ("portal token query parameter", re.compile(rf"[?&]token=(?![A-Za-z]*_?{PLACEHOLDER}\d)")),
    ("Paylera portal path token (/p/)", re.compile(rf"/p/(?![A-Za-z]*_?{PLACEHOLDER}\d)[^\s\"'/]")),
    (
        "Polar portal token (customer_session_token=)",
        re.compile(rf"[?&]customer_session_token=(?![A-Za-z]*_?{PLACEHOLDER}\d)"),
    ),
    ("Polar session token", re.compile(r"polar_cst_")),
    ("Polar access token", re.compile(r"polar_(?:oat|pat|at_[uo])_")),
    (
        "e-mail address (personal data)",
        re.compile(
            rf"(?!(?<![A-Za-z0-9._%+-]){PLACEHOLDER}\d+(?:@|%40){re.escape(EMAIL_PLACEHOLDER_DOMAIN)}\b)"
            + _EMAIL_BODY
        ),
    ),
    # (Not a WWW-Authenticate challenge: ``Bearer realm="..."`` names no credential.)
    ("bearer credential", re.compile(rf"(?i)bearer\s+(?!{PLACEHOLDER}\b|realm=)\S+")),
    ("request signature", re.compile(rf"v1=(?!{PLACEHOLDER}\b)[0-9A-Za-z]+")),
    ("hex digest (HMAC or hashed secret)", re.compile(r"\b[0-9a-f]{64}\b")),
    ("JSON web token", re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}")),
    ("Paddle API key", re.compile(r"pdl_(?:live|sdbx)_apikey_")),
    ("Stripe-style secret key", re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]+")),
    ("Set-Cookie header", re.compile(r"(?im)^\s*set-cookie:")),
)


def _header_problems(text: str) -> Iterator[str]:
    """Secret request headers must hold exactly their placeholder."""
    try:
        import yaml

        document = yaml.safe_load(text)
    except Exception:  # not YAML: the text patterns still apply
        return
    interactions = document.get("interactions", []) if isinstance(document, dict) else []
    for index, interaction in enumerate(interactions):
        headers = (interaction.get("request") or {}).get("headers") or {}
        for name, values in headers.items():
            if str(name).lower() not in SECRET_HEADERS:
                continue
            for value in values if isinstance(values, list) else [values]:
                if value != header_placeholder(str(value)):
                    yield f"interaction {index}: request header {name} is not scrubbed"


def find_secrets(text: str, known_secrets: tuple[str, ...] = ()) -> list[str]:
    """What in a cassette's text looks like a key, secret, signature or portal token."""
    problems = [
        f"{reason}: {_excerpt(match.group(0))}"
        for reason, pattern in _SECRET_PATTERNS
        for match in pattern.finditer(text)
    ]
    problems.extend(
        f"portal URL token: {_excerpt(match.group(0))}"
        for pattern in _TWIN_URL_TOKENS  # a token left in place of its placeholder
        for match in pattern.finditer(text)
        if PLACEHOLDER not in match.group("token")
    )
    problems.extend(_header_problems(text))
    problems.extend(
        f"a known secret value ({_excerpt(secret)})"
        for secret in known_secrets
        if len(secret) >= 6 and secret in text
    )
    return problems


def _excerpt(value: str) -> str:
    # Enough to find it in the file, not enough to reuse it.
    return f"{value[:6]}..." if len(value) > 6 else "..."


def env_secrets(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The live credentials set in this environment: none of them may be in a cassette."""
    names = [
        name
        for vendor in VENDORS
        for kind, names in live_env(vendor).items()
        for name in names
        if kind == "credentials" or "_NO_SCOPE_" in name
    ]
    return tuple(value for name in names if (value := environ.get(name, "")))


def cassette_files() -> list[Path]:
    return sorted(CASSETTES.glob("*/*.yaml"))


# -- providers per mode ------------------------------------------------------------------------


def replay_provider(vendor: str) -> PortalProvider:
    """A provider aimed at REPLAY_BASE_URL with the twin's throwaway credentials: in replay,
    nothing is sent, and vcrpy does not match on credentials or hosts. The twin's
    ``base_path`` (a site-scoped vendor's) is kept: vcrpy matches on the path."""
    return adapter(vendor, base_url=REPLAY_BASE_URL + twin(vendor).base_path)


def _env(name: str, environ: Mapping[str, str]) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"live recording needs {name} in the environment (docs/cassettes.md)")
    return value


def live_ids(vendor: str, canonical: Ids, environ: Mapping[str, str] = os.environ) -> Ids:
    customer_variable, subscriptions_variable = live_env(vendor)["ids"]
    subscriptions: tuple[str, ...] = ()
    if canonical.subscriptions:
        raw = _env(subscriptions_variable, environ)
        subscriptions = tuple(s.strip() for s in raw.split(",") if s.strip())
        if len(subscriptions) != len(canonical.subscriptions):
            raise RuntimeError(
                f"{subscriptions_variable} must list {len(canonical.subscriptions)} subscription"
                f" ids of {customer_variable}, comma-separated"
            )
    return Ids(
        customer=_env(customer_variable, environ),
        subscriptions=subscriptions,
        unknown_customer=canonical.unknown_customer,
    )


def live_provider(vendor: str, key: str, environ: Mapping[str, str] = os.environ) -> PortalProvider:
    """A provider for the vendor's own API, built by its ``from_env`` from the live
    variables. ``key`` is "valid", "wrong" (credentials the vendor must refuse: the valid
    ones with each field the twin's ``wrong`` key changes replaced, e.g. Plugipay's right key
    id signed with a wrong secret) or "no_scope" (a key without the portal permission, from
    the ``<VENDOR>_NO_SCOPE_*`` variables)."""
    found = twin(vendor)
    env = ProviderEnv(vendor, {})
    fields: dict[str, str] = {}
    for name in found.credentials["valid"]:
        variable = env.variable(f"no_scope_{name}" if key == "no_scope" else name)
        fields[name] = _env(variable, environ)
        if key == "wrong" and found.credentials["wrong"][name] != found.credentials["valid"][name]:
            fields[name] = f"portalkit-wrong-{name.replace('_', '-')}"
    for name, sandbox_value in found.environment.items():
        # The twin's value is the vendor's test environment (Paddle's "sandbox"): the default.
        fields[name] = environ.get(env.variable(name), "").strip() or sandbox_value
    if base_url := environ.get(env.variable("base_url"), "").strip():
        fields["base_url"] = base_url
    variables = {env.variable(name): value for name, value in fields.items()}
    return get_provider_factory(vendor).from_env(ProviderEnv(vendor, variables))


# -- one cassette test's view ------------------------------------------------------------------


@dataclass
class Recording:
    """What a cassette test needs to know about where its exchanges come from.

    ``ids`` are what the test sends (the real ones in live mode), ``recorded_ids`` what the
    cassette holds for them (the canonical ones); ``provider(key)`` builds the
    adapter for this mode; ``script(*faults)`` scripts the sandbox's next responses when
    recording against it, and does nothing otherwise (the cassette already holds them).
    """

    vendor: str
    mode: Mode
    ids: Ids
    #: The ids as the cassette holds them: the canonical ones, whatever was sent.
    recorded_ids: Ids
    sandbox: Any = None  # portalkit.sandbox.Sandbox, when mode == "sandbox"
    scrubber: Scrubber = field(default_factory=Scrubber)

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"

    def provider(self, key: str = "valid") -> PortalProvider:
        if self.mode == "sandbox":
            provider: PortalProvider = self.sandbox.provider(self.vendor, key=key)
            return provider
        if self.mode == "live":
            return live_provider(self.vendor, key)
        return replay_provider(self.vendor)

    def script(self, *faults: Any) -> None:
        if self.mode == "sandbox":
            self.sandbox.script(self.vendor, *faults)
        elif self.mode == "live":
            raise RuntimeError("faults can only be scripted on the sandbox (mark: sandbox_only)")

    def as_recorded(self, value: str) -> str:
        """What the cassette holds for ``value`` seen in this run: the same in replay; the
        scrubbed or rewritten form when recording."""
        return self.scrubber.as_recorded(value)

    def client(self, sent: list[httpx.Request]) -> httpx.Client:
        """An httpx client that notes every request it sends, attempt by attempt (vcrpy
        patches the transport underneath it, so this sees replayed attempts too)."""
        return httpx.Client(event_hooks={"request": [sent.append]})

    def vcr_config(self) -> dict[str, Any]:
        scrubber = self.scrubber

        # Plain functions, not bound methods: pytest-recording deep-copies this dict, and a
        # deep copy of a bound method copies its Scrubber (and what it has learned) with it.
        def before_record_request(request: Any) -> Any:
            return scrubber.request(request)

        def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
            return scrubber.response(response)

        return {
            "record_mode": "none" if self.replaying else "rewrite",
            "match_on": MATCH_ON,
            "allow_playback_repeats": False,
            "before_record_request": before_record_request,
            "before_record_response": before_record_response,
            # Real vendors may gzip; a cassette keeps the readable (and scrubbable) body.
            "decode_compressed_response": True,
            # A test that fails while recording leaves no half-written cassette behind.
            "record_on_exception": False,
        }


def recording_for(
    vendor: str,
    canonical: Ids,
    *,
    sandbox_only: bool,
    live_needs: tuple[str, ...],
    sandbox: Callable[[], Any],
    environ: Mapping[str, str] = os.environ,
) -> Recording:
    """The Recording for one test of ``vendor``, whose cassettes hold the ``canonical`` ids
    (its test module's ``CASSETTE_IDS``); ``sandbox`` starts (or returns) the sandbox
    server."""
    mode = vendor_mode(vendor, environ)
    if mode == "live" and (sandbox_only or any(not environ.get(n) for n in live_needs)):
        mode = "replay"  # keep the sandbox recording of what the live vendor cannot be made to do
    if mode == "replay":
        return Recording(vendor, mode, canonical, canonical)
    if mode == "live":
        ids = live_ids(vendor, canonical, environ)
        rewrites = {ids.customer: canonical.customer}
        rewrites.update(zip(ids.subscriptions, canonical.subscriptions, strict=True))
        return Recording(vendor, mode, ids, canonical, scrubber=Scrubber(rewrites))
    server = sandbox()
    _seed(server, vendor, canonical)
    # The sandbox's host:port (in URLs and the Host header) becomes REPLAY_BASE_URL's.
    netloc = {httpx.URL(server.url).netloc.decode(): httpx.URL(REPLAY_BASE_URL).netloc.decode()}
    return Recording(vendor, mode, canonical, canonical, sandbox=server, scrubber=Scrubber(netloc))


def _seed(server: Any, vendor: str, ids: Ids) -> None:
    """Give the sandbox the canonical customer (and subscriptions), on a clean slate."""
    server.reset()
    if ids.customer not in server.customers(vendor):
        server.add_customer(vendor, ids.customer)
    for subscription in ids.subscriptions:
        if subscription not in server.subscriptions(vendor, ids.customer):
            server.add_subscription(vendor, ids.customer, subscription)


def recorded_requests(cassette: Any) -> list[Any]:
    """The requests as the cassette holds them (recorded now, or loaded for replay)."""
    return list(cassette.requests)


def recorded_responses(cassette: Any) -> list[dict[str, Any]]:
    return list(cassette.responses)


def header(message: Any, name: str) -> str | None:
    """A header of a recorded request (a vcrpy Request) or response (its headers, a dict of
    lists)."""
    headers = message.headers if hasattr(message, "headers") else message
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else str(value)
    return None


def assert_cassette_played(cassette: Any, count: int) -> None:
    """The cassette holds exactly ``count`` exchanges and, in replay, every one was used."""
    assert len(cassette) == count, f"cassette holds {len(cassette)} exchanges, expected {count}"
    if cassette.rewound:  # loaded from a file: replaying
        assert cassette.all_played, "some recorded exchanges were never requested"
