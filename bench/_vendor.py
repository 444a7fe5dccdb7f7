"""What the bench knows about one vendor, and the generic machinery built from it.

The vendor list is the registry's (the ``portalkit.providers`` entry points). Each registered
vendor declares ``BENCH = VendorBench(...)`` in its test module, ``tests/test_<vendor>.py``
(beside the adapter's tests and its cassette scenarios): the vendor's
canned real answer (from its API reference or a recorded cassette), a customer, the
adapter's constructor fields, and -- only where the vendor needs one -- how a hand-written
integration signs its request and how its official SDK mints the same session. Everything
else is derived here from the adapter's own ``build_request``:

- the raw side's recipe: the method, URL and static headers of the built request, taken
  once; per create it encodes the body again from a Python value with the same encoding
  (compact JSON or a form), puts a fresh key in every ``*idempotency-key`` header, signs
  when the vendor signs, sends, checks the status, decodes the JSON answer and reads the
  portal URL from it: what a hand-written integration does, and nothing more;
- the in-process transport and the minimal server's answer: the canned answer, as bytes.

Adding a vendor to the bench is about 20 lines in that module, no file of its own; a
registered vendor without them fails ``tests/test_bench_smoke.py``, naming the file to write.
The module is imported as pytest imports it (``tests/`` on ``sys.path``, module
``test_<vendor>``), so it keeps its SDK imports inside its ``sdk`` factory: importing it
imports no SDK.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from portalkit import Feature, PortalProvider, PortalRequest, available_providers
from portalkit._http import httpx
from portalkit._registry import get_provider_factory

#: Signs a raw request in place: (credentials, method, path, body, headers).
Signer = Callable[[Mapping[str, str], str, str, bytes, dict[str, str]], None]


@dataclass(frozen=True)
class SdkTarget:
    """Where a vendor's official SDK sends its create, and what it asks for."""

    base_url: str
    credentials: Mapping[str, str]
    customer_id: str


#: Builds an SDK create against a target: (create, close).
SdkFactory = Callable[[SdkTarget], tuple[Callable[[], object], Callable[[], None]]]


@dataclass(frozen=True)
class VendorBench:
    #: The adapter's constructor fields (its ``from_env`` fields), for the in-process
    #: transport and the minimal server; the sandbox uses its twin's.
    credentials: Mapping[str, str]
    #: A customer the canned answer belongs to.
    customer_id: str
    #: The vendor's answer to the create, decoded (JSON), as the vendor documents it.
    answer: Mapping[str, Any]
    #: Where the portal URL sits in ``answer``: the raw side reads it there.
    url_at: tuple[str, ...]
    status: int = 200
    content_type: str = "application/json"
    #: Other ``PortalRequest`` fields the create needs (a return URL).
    request: Mapping[str, Any] = field(default_factory=dict)
    #: The vendor's request signing, written out as an integration would (not the adapter's).
    sign: Signer | None = None
    #: The vendor's official SDK, where there is one; ``sdk_name`` is its distribution.
    sdk: SdkFactory | None = None
    sdk_name: str = ""

    def body(self) -> bytes:
        return json.dumps(self.answer, separators=(",", ":")).encode()


def registered() -> list[str]:
    """The registered vendors: the registry's list, never restated here."""
    return available_providers()


#: Where the vendors' test modules are, each declaring its vendor's ``BENCH``.
TESTS = Path(__file__).resolve().parents[1] / "tests"


def declaration(vendor: str) -> VendorBench:
    """``BENCH`` of ``tests/test_<vendor>.py``, imported as pytest imports it (``tests/`` on
    ``sys.path``; under pytest it is the module already collected)."""
    if str(TESTS) not in sys.path:
        sys.path.append(str(TESTS))
    name = f"test_{vendor}"
    missing = (
        f"vendor {vendor!r} is registered but has no bench declaration: write"
        f" BENCH = VendorBench(...) in tests/{name}.py"
    )
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise LookupError(missing) from None
    found = getattr(module, "BENCH", None)
    if not isinstance(found, VendorBench):
        raise LookupError(missing)
    return found


@dataclass(frozen=True)
class Target:
    """One vendor's API at one place: the in-process transport, the minimal server or the
    sandbox."""

    vendor: str
    where: str
    base_url: str
    credentials: Mapping[str, str]
    customer_id: str
    bench: VendorBench

    def provider(self) -> PortalProvider:
        factory: Any = get_provider_factory(self.vendor)
        provider: PortalProvider = factory(**self.credentials, base_url=self.base_url)
        return provider

    def portal_request(self) -> PortalRequest:
        return PortalRequest(customer_id=self.customer_id, **self.bench.request)

    def sdk_target(self) -> SdkTarget:
        return SdkTarget(self.base_url, self.credentials, self.customer_id)


def in_process(vendor: str) -> Target:
    """A target answered by ``mock_transport``: no socket. The base URL is loopback's
    discard port, so a request that escaped the transport would fail at once."""
    bench = declaration(vendor)
    return Target(
        vendor, "in-process", "http://127.0.0.1:9", bench.credentials, bench.customer_id, bench
    )


def mock_transport(bench: VendorBench) -> httpx.MockTransport:
    """Every request gets the vendor's canned answer, prepared once."""
    body = bench.body()
    headers = {"content-type": bench.content_type}
    status = bench.status

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(answer)


def async_mock_transport(bench: VendorBench) -> httpx.MockTransport:
    body = bench.body()
    headers = {"content-type": bench.content_type}
    status = bench.status

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(answer)


# httpx adds these itself, from the URL and the body, on both sides alike.
_COMPUTED = frozenset({"host", "content-length"})


@dataclass(frozen=True)
class RawRecipe:
    """A hand-written integration's create, prepared once from the adapter's built request."""

    method: str
    url: str
    path: str
    headers: Mapping[str, str]
    #: "json", "form" or "none": how the body is encoded again on every create.
    encoding: str
    payload: Any
    key_headers: tuple[str, ...]
    credentials: Mapping[str, str]
    bench: VendorBench

    def prepare(self) -> tuple[dict[str, str], bytes]:
        """The headers and body of one create: encoded, keyed and signed afresh."""
        headers = dict(self.headers)
        if self.encoding == "json":
            body = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()
        elif self.encoding == "form":
            body = urlencode(self.payload).encode()
        else:
            body = b""
        for name in self.key_headers:
            headers[name] = str(uuid.uuid4())
        if self.bench.sign is not None:
            self.bench.sign(self.credentials, self.method, self.path, body, headers)
        return headers, body

    def read(self, response: Any) -> str:
        """What the integration does with the answer: check it, decode it, take the URL."""
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"raw create answered {response.status_code}")
        value: Any = json.loads(response.content)
        for key in self.bench.url_at:
            value = value[key]
        assert isinstance(value, str)
        return value

    def sync(self, client: httpx.Client) -> Callable[[], str]:
        method, url = self.method, self.url

        def create() -> str:
            headers, body = self.prepare()
            return self.read(client.request(method, url, headers=headers, content=body))

        return create

    def asynchronous(self, client: httpx.AsyncClient) -> Callable[[], Awaitable[str]]:
        method, url = self.method, self.url

        async def create() -> str:
            headers, body = self.prepare()
            return self.read(await client.request(method, url, headers=headers, content=body))

        return create


def recipe(target: Target) -> RawRecipe:
    """The raw side's recipe for ``target``, from the adapter's own ``build_request``."""
    provider = target.provider()
    request = target.portal_request()
    if Feature.IDEMPOTENCY_KEY in provider.features:
        request = PortalRequest(
            customer_id=request.customer_id,
            idempotency_key="bench-template",
            **target.bench.request,
        )
    built = provider.build_request(request)
    headers = {k: v for k, v in built.headers.items() if k.lower() not in _COMPUTED}
    content_type = built.headers.get("content-type", "")
    if not built.content:
        encoding, payload = "none", None
    elif "json" in content_type:
        encoding, payload = "json", json.loads(built.content)
    elif "x-www-form-urlencoded" in content_type:
        encoding = "form"
        payload = parse_qsl(built.content.decode(), keep_blank_values=True)
    else:
        raise ValueError(f"{target.vendor}: a body of type {content_type!r}")
    keys = tuple(k for k in headers if k.lower().endswith("idempotency-key"))
    if target.bench.sign is not None:  # the signer sets its own headers on every create
        signed: dict[str, str] = {}
        target.bench.sign(target.credentials, built.method, built.url.path, b"", signed)
        names = {name.lower() for name in signed}
        headers = {k: v for k, v in headers.items() if k.lower() not in names}
    return RawRecipe(
        built.method,
        str(built.url),
        built.url.path,
        headers,
        encoding,
        payload,
        keys,
        target.credentials,
        target.bench,
    )


def same_request_on_the_wire(vendor: str) -> tuple[bool, str]:
    """Whether portalkit and the raw recipe put the same method, URL, headers and body (as
    parsed) on the wire, recorded through one in-process transport. Header values that change
    on every create (idempotency keys, the signature and its timestamp) are compared by name."""
    from portalkit import Portal

    target = in_process(vendor)
    bench = target.bench
    seen: list[httpx.Request] = []
    body = bench.body()

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            bench.status, headers={"content-type": bench.content_type}, content=body
        )

    raw = recipe(target)
    with (
        httpx.Client(transport=httpx.MockTransport(record)) as client,
        Portal(target.provider(), http_client=client) as portal,
    ):
        portal.create_link(target.portal_request())
        raw.sync(client)()
    if len(seen) != 2:
        return False, f"{len(seen)} requests, not one per side"
    ours, theirs = (_image(r, raw) for r in seen)
    if ours != theirs:
        return False, f"portalkit {ours!r} != raw {theirs!r}"
    return True, ""


def _image(request: httpx.Request, raw: RawRecipe) -> tuple[object, ...]:
    volatile = {name.lower() for name in raw.key_headers}
    if raw.bench.sign is not None:
        probe: dict[str, str] = {}
        raw.bench.sign(raw.credentials, raw.method, raw.path, b"", probe)
        volatile |= {name.lower() for name in probe}
    headers = tuple(
        sorted(
            (k.lower(), "<varies>" if k.lower() in volatile else v)
            for k, v in request.headers.multi_items()
            if k.lower() not in _COMPUTED
        )
    )
    if raw.encoding == "json":
        body: object = json.loads(request.content)
    elif raw.encoding == "form":
        body = sorted(parse_qsl(request.content.decode(), keep_blank_values=True))
    else:
        body = request.content
    return request.method, str(request.url), headers, body
