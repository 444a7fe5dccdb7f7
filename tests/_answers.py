"""Each registered vendor's documented success answer, built around a URL and a customer of
the test's choosing, for the hardening tests (tests/test_hardening_*.py).

``VENDORS`` maps every registered vendor (the registry's list, ``tests/_vendors.py``) to a
``Vendor`` derived from the bench's declaration of it, ``BENCH`` in ``tests/test_<vendor>.py``
(``bench._vendor.declaration``): its documented answer, status, content type, where the
portal URL sits in it (``url_at``), its customer, the adapter's constructor fields and the
request's other fields. A vendor module may also declare ``HARDENING_BENCH``, the same
declaration for a request whose answer carries deep links (a subscription asked for), which
is then used instead: the hardening tests check deep links too. No vendor is named here, so a
new vendor is covered with no edit of this file.

What is derived from the answer, never declared:

- ``good_url``: the answer's own portal URL (at ``url_at``);
- the deep links: every other string in the answer that is a URL on the portal URL's host;
- whether the vendor echoes the customer: the customer id appears as a value in the answer;
  ``other_customer`` is then another well-formed id of the vendor's (a customer its twin
  seeds), else None.

Every request built here (``request()``) takes one request to answer: the declarations ask
for nothing that makes a multi-request exchange (a vendor reading subscriptions one by one
does so only for subscriptions asked for);
``tests/test_hardening_links.py::test_the_vendors_own_portal_url_passes`` asserts it.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from _vendors import VENDORS as REGISTERED
from _vendors import twin

from bench._vendor import VendorBench, declaration
from portalkit import PortalProvider, PortalRequest
from portalkit._http import httpx
from portalkit._registry import get_provider_factory

Path = tuple[Any, ...]


def _leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _at(node: Any, path: Path) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(node: Any, path: Path, value: Any) -> None:
    _at(node, path[:-1])[path[-1]] = value


def _host(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:  # not a URL: no host
        return None
    return parsed.host if parsed.scheme == "https" else None


@attrs.frozen
class Vendor:
    name: str
    bench: VendorBench
    good_url: str
    #: Where the portal URL, each deep link and each echo of the customer sit in the answer.
    url_at: Path
    deep_link_paths: tuple[Path, ...]
    customer_paths: tuple[Path, ...]
    other_customer: str | None  # None: the vendor never echoes a customer

    @property
    def customer(self) -> str:
        return self.bench.customer_id

    @property
    def status(self) -> int:
        return self.bench.status

    @property
    def deep_links(self) -> bool:
        """Does the answer carry deep links (besides the portal URL)?"""
        return bool(self.deep_link_paths)

    def build(self, **options: Any) -> PortalProvider:
        """The adapter, through the registry, with the declaration's fields (``base_url=...``
        and other options on top)."""
        factory: Any = get_provider_factory(self.name)
        provider: PortalProvider = factory(**self.bench.credentials, **options)
        return provider

    def request(self) -> PortalRequest:
        return PortalRequest(self.customer, **self.bench.request)

    def body(
        self,
        url: str,
        customer: str | None = None,
        deep_url: str | None = None,
        omit_customer: bool = False,
    ) -> dict[str, Any]:
        """The documented answer with ``url`` as the portal link, ``deep_url`` (else ``url``)
        as every deep link, and ``customer`` as every echo of the customer (or, with
        ``omit_customer``, no echo at all). A fresh copy each call."""
        body: dict[str, Any] = copy.deepcopy(dict(self.bench.answer))
        _set(body, self.url_at, url)
        for path in self.deep_link_paths:
            _set(body, path, deep_url or url)
        for path in self.customer_paths:
            if omit_customer:
                del _at(body, path[:-1])[path[-1]]
            elif customer is not None:
                _set(body, path, customer)
        return body

    def reply(
        self, body: Any, status: int | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """``body`` as the vendor sends it: its status and content type."""
        return httpx.Response(
            self.status if status is None else status,
            headers={"Content-Type": self.bench.content_type, **(headers or {})},
            content=json.dumps(body).encode(),
        )

    def response(self, url: str, **kw: Any) -> Callable[[httpx.Request], httpx.Response]:
        body = self.body(url, **kw)

        def answer(request: httpx.Request) -> httpx.Response:
            return self.reply(body)

        return answer


def _other_customer(name: str, customer: str) -> str:
    """A customer the twin seeds, not ``customer``: well-formed for the vendor."""
    return next(seeded for seeded in twin(name).customers if seeded != customer)


def derive(name: str) -> Vendor:
    bench = declaration(name)  # BENCH, or HARDENING_BENCH where declared beside it
    bench = getattr(importlib.import_module(f"test_{name}"), "HARDENING_BENCH", bench)
    url_at = tuple(bench.url_at)
    good_url = _at(bench.answer, url_at)
    leaves = list(_leaves(bench.answer))
    deep = tuple(
        path
        for path, value in leaves
        if path != url_at
        and isinstance(value, str)
        and value != good_url
        and _host(value) == _host(good_url)
    )
    echoes = tuple(path for path, value in leaves if value == bench.customer_id)
    return Vendor(
        name,
        bench,
        good_url,
        url_at,
        deep,
        echoes,
        _other_customer(name, bench.customer_id) if echoes else None,
    )


VENDORS: dict[str, Vendor] = {name: derive(name) for name in REGISTERED}
NAMES = sorted(VENDORS)
