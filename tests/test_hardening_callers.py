"""Issue 10, items 6 and 8: credentials are checked when an adapter is built, and a careless
caller gets a clear error at the line they wrote (or what they meant).
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from _answers import NAMES, VENDORS
from _mock import MODES, Script, mint
from _vendors import twin

from portalkit import AsyncPortal, Feature, Portal, PortalRequest, errors
from portalkit._http import httpx
from portalkit._registry import get_provider_factory

# -- 6. credentials -------------------------------------------------------------------

#: Each vendor's constructor fields and good values: its twin's ``valid`` credentials.
GOOD: dict[str, dict[str, str]] = {
    vendor: dict(twin(vendor).credentials["valid"]) for vendor in NAMES
}
_CLASSES: dict[str, Any] = {vendor: get_provider_factory(vendor) for vendor in NAMES}


def _secrets(vendor: str) -> tuple[str, ...]:
    """Which of those fields are keys or secrets (item 6's subject): the ones the adapter
    keeps out of its repr (``attrs.field(repr=False, validator=check.secret)``). Another
    field, such as a site name, has a format of its own, checked by its own rule."""
    factory = _CLASSES[vendor]
    hidden = {f.name for f in attrs.fields(factory) if not f.repr} if attrs.has(factory) else None
    return tuple(field for field in GOOD[vendor] if hidden is None or field in hidden)


CREDENTIALS: dict[str, tuple[str, ...]] = {vendor: _secrets(vendor) for vendor in NAMES}
BAD_VALUES = {
    "cr": "pk_live_ZQXVW\r",
    "lf": "pk_live_ZQXVW\nX-Injected: 1",
    "nul": "pk_live_ZQXVW\x00",
    "tab": "pk_live_\tZQXVW",
    "non-ascii": "pk_live_ZQXVÉ",
    "look-alike": "pk_live_ZQXVW\u200b",
    "leading-space": " pk_live_ZQXVW",
    "trailing-space": "pk_live_ZQXVW ",
    "trailing-newline": "pk_live_ZQXVW\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
@pytest.mark.parametrize(
    ("vendor", "field"), [(v, f) for v in sorted(CREDENTIALS) for f in CREDENTIALS[v]]
)
def test_a_malformed_credential_is_a_configuration_error_naming_the_field(
    vendor: str, field: str, kind: str
) -> None:
    settings = dict(GOOD[vendor])
    settings[field] = BAD_VALUES[kind]
    with pytest.raises(errors.ConfigurationError) as caught:
        _CLASSES[vendor](**settings)
    error = caught.value
    assert error.field == field
    assert field in error.message
    text = f"{error} {error!r}"
    assert "ZQXVW" not in text
    assert "ZQXV" not in text


@pytest.mark.parametrize("bad", ["pk_live_\r\nZQXVW", "pk_live_ZQXVÉ", "pk_\x00ZQXVW"])
@pytest.mark.parametrize("vendor", NAMES)
def test_a_malformed_credential_from_the_environment_is_refused_before_any_call(
    vendor: str, bad: str
) -> None:
    # (Surrounding whitespace in an environment variable is stripped: a trailing newline
    # from a secrets file is the common case, and harmless once stripped.)
    environ = {"PORTALKIT_PROVIDER": vendor}
    for field in GOOD[vendor]:
        environ[f"{vendor.upper()}_{field.upper()}"] = GOOD[vendor][field]
    environ[f"{vendor.upper()}_{CREDENTIALS[vendor][-1].upper()}"] = bad
    with pytest.raises(errors.ConfigurationError) as caught:
        Portal.from_env(environ)
    assert "ZQXV" not in str(caught.value)


@pytest.mark.parametrize("vendor", NAMES)
def test_a_clean_credential_still_builds(vendor: str) -> None:
    assert VENDORS[vendor].build().name == vendor


# -- 8. careless callers --------------------------------------------------------------


@pytest.mark.parametrize("portal_class", [Portal, AsyncPortal])
@pytest.mark.parametrize(
    "provider",
    [
        *(pytest.param(name, id=f"name-{name}") for name in NAMES),
        *(pytest.param(factory, id=f"class-{name}") for name, factory in _CLASSES.items()),
        42,
        None,
    ],
)
def test_portal_refuses_what_is_not_a_provider_when_it_is_built(
    portal_class: type[Any], provider: object
) -> None:
    with pytest.raises(TypeError) as caught:
        portal_class(provider)
    assert portal_class.__name__ in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "vendor", [n for n in NAMES if Feature.RETURN_URL in VENDORS[n].build().features]
)
def test_allowed_return_hosts_as_a_string_is_one_host(vendor: str, mode: str) -> None:
    v = VENDORS[vendor]
    request = attrs.evolve(v.request(), return_url="https://app.example.com/account")
    link = mint(
        mode,
        v.build(),
        Script(v.response(v.good_url)),
        request,
        allowed_return_hosts="app.example.com",
    )
    assert link.url == v.good_url
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(
            mode,
            v.build(),
            Script(),
            attrs.evolve(v.request(), return_url="https://a.e/x"),
            allowed_return_hosts="app.example.com",
        )
    assert caught.value.field == "return_url"


def test_subscription_ids_none_means_none() -> None:
    request = PortalRequest(VENDORS[NAMES[0]].customer, subscription_ids=None)
    assert request.subscription_ids == ()


def _with_options(request: PortalRequest, options: dict[str, Any]) -> PortalRequest:
    return attrs.evolve(request, provider_options=options)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_provider_options_for_an_unknown_vendor_are_listed_as_ignored(
    vendor: str, mode: str
) -> None:
    v = VENDORS[vendor]
    request = _with_options(v.request(), {"padle": {"x": 1}})
    link = mint(mode, v.build(), Script(v.response(v.good_url)), request)
    assert "provider_options['padle']" in link.ignored_fields
    # An entry for another installed vendor is normal (one request shape for a migration).
    other = next(name for name in NAMES if name != vendor)
    request = _with_options(v.request(), {other: {"x": 1}})
    link = mint(mode, v.build(), Script(v.response(v.good_url)), request, strict=True)
    assert link.ignored_fields == ()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_provider_options_for_an_unknown_vendor_are_refused_under_strict(
    vendor: str, mode: str
) -> None:
    v = VENDORS[vendor]
    request = _with_options(v.request(), {"padle": {"x": 1}})
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, v.build(), script, request, strict=True)
    assert caught.value.field == "provider_options['padle']"
    assert script.sent == []


@pytest.mark.parametrize("vendor", NAMES)
def test_a_module_level_async_portal_works_from_two_event_loops(vendor: str) -> None:
    """Two asyncio.run calls on one AsyncPortal: the second used to reuse a connection of
    the first, closed, loop. Over a real socket (the sandbox), so connections are pooled."""
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        customer = sandbox.customers(vendor)[0]
        portal = AsyncPortal(sandbox.provider(vendor))
        request = PortalRequest(customer, return_url="https://app.example.com/account")

        async def once() -> str:
            return (await portal.create_link(request)).customer_id

        assert asyncio.run(once()) == customer
        assert asyncio.run(once()) == customer  # a fresh loop, a fresh client
        asyncio.run(portal.aclose())


@pytest.mark.parametrize("vendor", NAMES)
def test_a_callers_async_client_from_a_second_loop_is_a_clear_portal_error(vendor: str) -> None:
    v = VENDORS[vendor]
    client = httpx.AsyncClient(transport=httpx.MockTransport(v.response(v.good_url)))
    portal = AsyncPortal(v.build(), http_client=client)

    async def once() -> str:
        return (await portal.create_link(v.request())).customer_id

    assert asyncio.run(once()) == v.customer
    with pytest.raises(errors.ConfigurationError) as caught:
        asyncio.run(once())
    assert "event loop" in caught.value.message
    assert "async with" in caught.value.message
