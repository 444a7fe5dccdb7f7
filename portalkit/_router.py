"""MigrationRouter: several vendors live at once, one code path.

During a migration some customers are still billed by the old vendor and some already by
the new one. The app gives a ``route`` function from a request (whose ``customer_id`` is the
app's own id for the customer) to a ``Route``: which provider serves this customer, and the
customer's id at that provider. ``Portal(MigrationRouter(...))`` then mints every link the
same way, and ``link.provider`` says which vendor made it.

The router is not an adapter: a fallback needs a second request, and adapters never send
anything. ``Portal``/``AsyncPortal`` ask it for a ``Dispatch`` (the provider and the request
it gets, plus the fallback to try if that provider answers ``CustomerNotFound``) and run
each step as an ordinary call, with the routed provider's features, retries and errors.

Only ``CustomerNotFound`` falls back, and an adapter raises it only on the vendor's own
answer (its error envelope saying so). Any other error stands -- in particular
``UnexpectedEndpoint``, an error status whose body is not the vendor's (a wrong base URL
path, a proxy's page): falling back on it would silently send every migrated customer back
to the old vendor, blaming each customer for a misconfigured URL.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Protocol, TypeAlias, overload, runtime_checkable

import attrs

from ._models import CustomerIdKind, Flow, PortalLink, PortalRequest, to_customer_id_kind
from ._protocol import PortalProvider
from .errors import ConfigurationError, CustomerNotFound, InvalidRequest

logger = logging.getLogger("portalkit")


def _no_nested_fallback(
    instance: Route, attribute: attrs.Attribute[Route | None], value: object
) -> None:
    if value is not None and (not isinstance(value, Route) or value.fallback is not None):
        raise ConfigurationError("Route.fallback must be a Route without a fallback of its own")


def _optional_ids(values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    return (values,) if isinstance(values, str) else tuple(values)


@attrs.frozen
class Route:
    """Where one request goes: the provider's name in the router, the customer's id there.

    ``customer_id_kind`` says whose id ``customer_id`` is at that provider: the vendor's
    (``"vendor"``, the default) or the app's own (``"external"``), for a vendor that looks
    customers up by the app's id (``Route("polar", request.customer_id,
    customer_id_kind="external")``); a provider that cannot refuses it before sending.
    ``subscription_ids`` and ``flow``, when given, replace the request's (subscription ids
    differ between vendors too). ``fallback`` is where to go instead if that provider does
    not know the customer; it is used only by a router made with ``fallback=True``.
    """

    provider: str
    customer_id: str
    customer_id_kind: CustomerIdKind = attrs.field(
        default=CustomerIdKind.VENDOR, kw_only=True, converter=to_customer_id_kind
    )
    subscription_ids: tuple[str, ...] | None = attrs.field(
        default=None, kw_only=True, converter=_optional_ids
    )
    flow: Flow | None = attrs.field(default=None, kw_only=True)
    fallback: Route | None = attrs.field(default=None, kw_only=True, validator=_no_nested_fallback)


#: What a route function may return: a Route, or a (provider, customer_id) pair.
RouteResult: TypeAlias = Route | tuple[str, str]
RouteFunction: TypeAlias = Callable[[PortalRequest], RouteResult | Awaitable[RouteResult]]


@attrs.frozen
class Dispatch:
    """One step of a create_link call: this provider, this request; then, if the provider
    answers ``CustomerNotFound`` (the vendor's own verdict: never an answer in another
    shape, which is ``UnexpectedEndpoint``), the ``fallback`` step (when there is one)."""

    provider: PortalProvider
    request: PortalRequest
    fallback: Dispatch | None = None

    def fall_back(self, error: CustomerNotFound) -> Dispatch | None:
        """The step to take after ``error``, logged (ids and names only: no URL, no key);
        None when there is no fallback and ``error`` stands."""
        if self.fallback is None:
            return None
        logger.warning(
            "%s does not know customer %s (request id %s); falling back to %s, customer %s",
            self.provider.name,
            self.request.customer_id,
            error.request_id,
            self.fallback.provider.name,
            self.fallback.request.customer_id,
        )
        return self.fallback


@runtime_checkable
class RequestRouter(Protocol):
    """What ``Portal`` accepts besides a provider: something that picks the provider for
    each request. ``MigrationRouter`` is the one portalkit ships."""

    def dispatch(self, request: PortalRequest) -> Dispatch: ...

    async def adispatch(self, request: PortalRequest) -> Dispatch: ...


class MigrationRouter:
    """One provider in front of several: each request goes where ``route`` says.

    ``providers`` are the vendors live at once, by name (a list uses each provider's own
    ``name``; a mapping lets one vendor appear twice, e.g. two Paddle accounts). ``route``
    maps a request to a ``Route`` or a ``(provider, customer_id)`` pair; with ``AsyncPortal``
    it may be an ``async`` function. ``fallback=True`` turns on the routes' fallbacks: when
    the routed provider answers ``CustomerNotFound`` (the customer is not there yet during
    cut-over), the request is sent again to the route's fallback, with a warning logged.
    Only the vendor's own "no such customer" falls back: an ``UnexpectedEndpoint`` (a 404
    page from a wrong base URL or a proxy), an authentication failure or an outage stands.
    """

    # Two overloads so that a dict literal of different adapters type-checks as a mapping.
    @overload
    def __init__(
        self,
        providers: Mapping[str, PortalProvider],
        route: RouteFunction,
        *,
        fallback: bool = False,
    ) -> None: ...

    @overload
    def __init__(
        self,
        providers: Iterable[PortalProvider],
        route: RouteFunction,
        *,
        fallback: bool = False,
    ) -> None: ...

    def __init__(
        self,
        providers: Mapping[str, PortalProvider] | Iterable[PortalProvider],
        route: RouteFunction,
        *,
        fallback: bool = False,
    ) -> None:
        by_name: dict[str, PortalProvider] = {}
        if isinstance(providers, Mapping):
            by_name.update(providers)
        else:
            for provider in providers:
                if provider.name in by_name:
                    raise ConfigurationError(
                        f"two providers are named {provider.name!r}: pass a mapping to name"
                        " them apart"
                    )
                by_name[provider.name] = provider
        if not by_name:
            raise ConfigurationError("MigrationRouter needs at least one provider")
        for name, provider in by_name.items():
            if not isinstance(provider, PortalProvider):
                raise ConfigurationError(
                    f"providers[{name!r}] is a {type(provider).__name__}, not a PortalProvider"
                )
        self.providers: Mapping[str, PortalProvider] = MappingProxyType(by_name)
        self.route = route
        self.fallback = fallback

    def provider_for(self, link: PortalLink) -> PortalProvider:
        """The provider that minted ``link``, for ``end_session``: the router's entry of the
        link's provider name, else the one provider with that ``name``. Raises
        ``ConfigurationError`` when none, or several (two accounts of one vendor), match."""
        if link.provider in self.providers:
            return self.providers[link.provider]
        matches = [p for p in self.providers.values() if p.name == link.provider]
        if len(matches) == 1:
            return matches[0]
        raise ConfigurationError(
            f"this router has {'no' if not matches else 'more than one'} provider named"
            f" {link.provider!r}: end the session through a Portal of the provider that"
            " minted the link",
            provider=link.provider,
        )

    def dispatch(
        self,
        request: PortalRequest,
        *,
        when_async: str = "use it with AsyncPortal, or make it a plain function for Portal",
    ) -> Dispatch:
        """The steps for ``request``, found without awaiting: an async ``route`` is refused
        with ``ConfigurationError`` (``when_async`` says what to do instead)."""
        result = self._route(request)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited: close it so Python does not warn
            raise ConfigurationError(f"the route function is async: {when_async}")
        return self._steps(request, result)

    async def adispatch(self, request: PortalRequest) -> Dispatch:
        """The steps for ``request``, awaiting ``route`` when it is async."""
        result = self._route(request)
        if inspect.isawaitable(result):
            result = await result
        return self._steps(request, result)

    def _route(self, request: PortalRequest) -> RouteResult | Awaitable[RouteResult]:
        if not isinstance(request, PortalRequest):
            raise InvalidRequest.local(
                "request", f"must be a PortalRequest, not {type(request).__name__}"
            )
        return self.route(request)

    def _steps(self, request: PortalRequest, result: object) -> Dispatch:
        route = _as_route(result)
        steps = self._step(request, route)
        if self.fallback and route.fallback is not None:
            steps = attrs.evolve(steps, fallback=self._step(request, route.fallback))
        return steps

    def _step(self, request: PortalRequest, route: Route) -> Dispatch:
        provider = self.providers.get(route.provider)
        if provider is None:
            raise ConfigurationError(
                f"the route function chose provider {route.provider!r}, which this router"
                f" does not have (it has: {', '.join(self.providers)})"
            )
        # attrs.evolve re-runs PortalRequest's validators on the vendor's ids.
        routed = attrs.evolve(
            request,
            customer_id=route.customer_id,
            # The route's, never the request's: the route says what the id is at its vendor.
            customer_id_kind=route.customer_id_kind,
            subscription_ids=(
                request.subscription_ids
                if route.subscription_ids is None
                else route.subscription_ids
            ),
            flow=request.flow if route.flow is None else route.flow,
        )
        return Dispatch(provider, routed)

    def __repr__(self) -> str:
        return f"MigrationRouter(providers={list(self.providers)!r}, fallback={self.fallback})"


def _as_route(result: object) -> Route:
    if isinstance(result, Route):
        return result
    if (
        isinstance(result, tuple)
        and len(result) == 2
        and all(isinstance(part, str) for part in result)
    ):
        return Route(result[0], result[1])
    raise ConfigurationError(
        "the route function must return a Route or a (provider, customer_id) tuple,"
        f" not {type(result).__name__}"
    )
