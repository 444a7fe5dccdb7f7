"""The hosted portal's machinery: each twin's page routes (its portal links, as its vendor
formats them), the cookie-authenticated portal page every twin shares at
``/{vendor}/session``, and ``Pages``, the helpers a twin's page handlers use.

A link is single-use: its first visit trades it for an httpOnly cookie scoped to
``/{vendor}/session`` (``Pages.open``) and shows the portal; a second visit, or one after
it expired, is 410 Gone. The cookie's path keeps it away from the link paths, so a second
use of a link is 410 even in the browser that used it first.

A vendor whose token rides in the URL fragment (which the browser never sends) answers its
link with ``Pages.exchange_page``: a small page whose script POSTs the token to
``<link>/exchange`` (``Pages.exchange``: 204 + cookie), then opens ``/{vendor}/session``.
``portalkit demo`` follows that same convention when it opens a link like a browser.

For a twin that sends webhooks, the portal page shows each subscription's state and a button
per action the session allows that changes it (``TwinWebhooks.action_changes``): a form that
POSTs ``action`` and ``subscription_id`` to ``/{vendor}/session/act`` (the cookie's path covers
it), which applies the change, queues the vendor's events and answers 303 back to the page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import _html as html
from ._changes import Changes, portal_actions
from ._store import Consumed, PortalCookie, Session, Store, TwinStore

if TYPE_CHECKING:
    from .twin import PageRoute, Twin

COOKIE = "portalkit_sandbox_portal"


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status, {"Content-Security-Policy": html.CONTENT_SECURITY_POLICY})


class Pages:
    """What a twin's page handler gets besides the request: its vendor's store, and the
    hosted portal's shared behaviour (single-use links, the cookie, refusals)."""

    def __init__(self, twin: Twin, store: Store) -> None:
        self.twin = twin
        self._store = store
        self.store = TwinStore(store, twin.name)

    def refused(self, outcome: Consumed) -> HTMLResponse:
        """The page for a link that cannot be used: 410 (used, expired), 403 (wrong token),
        404 (no such link)."""
        if outcome in ("used", "expired"):
            return _page(html.gone_page(outcome), 410)
        if outcome == "forbidden":
            return _page(
                html.error_page(
                    "invalid-link", "Invalid portal link", "This link's token is wrong."
                ),
                403,
            )
        return _page(html.error_page("not-found", "No such portal link", "Check the link."), 404)

    def open(
        self,
        request: Request,
        session_id: str,
        token: str | None = None,
        action: str | None = None,
        subscription_id: str | None = None,
    ) -> Response:
        """First visit of a link: use it up (``token``, when given, must match the
        session's), set the cookie, show the portal (at ``action`` for ``subscription_id``
        when the link is a deep link). A HEAD probe does not use the link up."""
        if request.method == "HEAD":
            return Response(status_code=200 if self.store.session(session_id) else 404)
        outcome = self.store.consume(session_id, token)
        session = self.store.session(session_id)
        if outcome != "ok" or session is None:
            return self.refused(outcome)
        response = self._render(session, action, subscription_id)
        self._set_cookie(
            response, PortalCookie(self.twin.name, session_id, action, subscription_id)
        )
        return response

    def exchange_page(self, session_id: str) -> Response:
        """The first page of a link whose token is in the URL fragment: checks the session
        is still usable, and runs the script that trades the token for the cookie."""
        session = self.store.session(session_id)
        if session is None:
            return self.refused("missing")
        if session.used:
            return self.refused("used")
        if session.expired(self.store.now()):
            return self.refused("expired")
        return _page(html.exchange_page(self.twin.title, f"/{self.twin.name}/session"))

    async def exchange(self, request: Request, session_id: str) -> Response:
        """``POST <link>/exchange {"token": ...}``: use the link up and set the cookie (204),
        or 400 (no token), 403 (wrong token), 404, 410."""
        try:
            token = json.loads(await request.body()).get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str):
            return Response(status_code=400)
        outcome = self.store.consume(session_id, token)
        if outcome != "ok":
            return Response(status_code=_STATUS[outcome])
        response = Response(status_code=204)
        self._set_cookie(response, PortalCookie(self.twin.name, session_id, None, None))
        return response

    def portal(
        self, session: Session, action: str | None = None, subscription_id: str | None = None
    ) -> HTMLResponse:
        """The portal page for ``session``, as a twin's page handler answers it. For a twin
        whose links are reusable views (``Twin.single_use_links`` False) it also sets the
        portal cookie, holding ``session``: the page's buttons POST to ``/{vendor}/session/act``
        with it, and ``/{vendor}/session`` shows the view again until the link expires."""
        response = self._render(session, action, subscription_id)
        if not self.twin.single_use_links:
            cookie = PortalCookie(self.twin.name, session.id, action, subscription_id, session)
            self._set_cookie(response, cookie)
        return response

    def _render(
        self, session: Session, action: str | None = None, subscription_id: str | None = None
    ) -> HTMLResponse:
        """The portal page for ``session`` (what the cookie opens)."""
        try:
            subscriptions = self.store.subscriptions(session.customer_id)
        except KeyError:
            subscriptions = []
        rows = [self._row(session, sub) for sub in subscriptions]
        return _page(html.portal_page(self.twin, session, rows, action, subscription_id))

    def _row(self, session: Session, subscription_id: str) -> html.SubscriptionRow:
        if self.twin.webhooks is None:
            return html.SubscriptionRow(subscription_id)
        state = self.store.subscription_state(subscription_id)
        allowed = self.twin.allowed_actions(session, self.twin.actions)
        return html.SubscriptionRow(
            subscription_id, state, portal_actions(self.twin, allowed, state)
        )

    def _set_cookie(self, response: Response, cookie: PortalCookie) -> None:
        response.set_cookie(
            COOKIE,
            self._store.new_cookie(cookie),
            path=f"/{cookie.vendor}/session",
            httponly=True,
            samesite="lax",
        )


class PortalPages:
    """Every twin's page routes, its ``/{vendor}/session`` page (and, for a twin that sends
    webhooks, its ``/{vendor}/session/act``), and the exchange script."""

    def __init__(self, twins: Sequence[Twin], store: Store, changes: Changes) -> None:
        self.store = store
        self.changes = changes
        self.pages = {twin.name: Pages(twin, store) for twin in twins}

    def routes(self) -> list[Route]:
        routes = [
            Route(f"/{name}/session", self._session_page(pages), methods=["GET"])
            for name, pages in self.pages.items()
        ]
        routes += [
            Route(f"/{name}/session/act", self._act(pages), methods=["POST"])
            for name, pages in self.pages.items()
            if pages.twin.webhooks is not None
        ]
        for pages in self.pages.values():
            routes += [self._route(pages, page) for page in pages.twin.pages]
        routes.append(Route(html.EXCHANGE_SCRIPT_PATH, self.exchange_script, methods=["GET"]))
        return routes

    @staticmethod
    def _route(pages: Pages, page: PageRoute) -> Route:
        async def endpoint(request: Request) -> Response:
            return await page.handler(request, pages)

        return Route(page.path, endpoint, methods=[page.method])

    def _signed_in(self, request: Request, pages: Pages) -> tuple[PortalCookie, Session] | None:
        cookie = self.store.cookie(request.cookies.get(COOKIE))
        if cookie is None or cookie.vendor != pages.twin.name:
            return None
        if cookie.session is not None:  # a reusable link's view: good until the link expires
            expired = cookie.session.expired(pages.store.now())
            return None if expired else (cookie, cookie.session)
        session = pages.store.session(cookie.session_id)
        return None if session is None else (cookie, session)

    def _session_page(self, pages: Pages) -> Callable[[Request], Awaitable[Response]]:
        async def session_page(request: Request) -> Response:
            signed_in = self._signed_in(request, pages)
            if signed_in is None:
                return _not_signed_in()
            cookie, session = signed_in
            return pages._render(session, cookie.action, cookie.subscription_id)

        return session_page

    def _act(self, pages: Pages) -> Callable[[Request], Awaitable[Response]]:
        async def act(request: Request) -> Response:
            signed_in = self._signed_in(request, pages)
            if signed_in is None:
                return _not_signed_in()
            if not _same_origin(request):
                # The cookie is SameSite=Lax, but another port of 127.0.0.1 is the same site:
                # a page of another local app must not press the customer's buttons.
                return _page(
                    html.error_page("cross-origin", "Refused", "Use the portal's own buttons."),
                    403,
                )
            fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            action, subscription_id = fields.get("action"), fields.get("subscription_id")
            if not action or not subscription_id:
                return _page(
                    html.error_page(
                        "bad-action", "Bad request", "Send action and subscription_id."
                    ),
                    400,
                )
            session = signed_in[1]
            try:
                self.changes.act(pages.twin, session, action, subscription_id)
            except KeyError:
                return _page(
                    html.error_page("not-found", "No such subscription", "Check the page."),
                    404,
                )
            except ValueError as exc:  # a button for a change no longer possible
                return _page(html.error_page("action-refused", "Not possible", str(exc)), 409)
            # Post/Redirect/Get: the page then shows the new state, and a reload re-sends
            # nothing.
            return RedirectResponse(f"/{pages.twin.name}/session", status_code=303)

        return act

    async def exchange_script(self, request: Request) -> Response:
        return Response(html.EXCHANGE_SCRIPT, media_type="text/javascript")


def _not_signed_in() -> HTMLResponse:
    return _page(
        html.error_page("no-session", "Not signed in", "Open the portal through a portal link."),
        401,
    )


def _same_origin(request: Request) -> bool:
    """Whether a POST comes from the portal's own page. A browser says so in
    ``Sec-Fetch-Site`` (``same-site`` from another port of 127.0.0.1); its ``Origin`` is
    ``null`` here, as every sandbox page is served with ``Referrer-Policy: no-referrer``, so a
    real origin is compared only when it is sent. A client that sends neither (httpx, curl) is
    no browser a page could drive."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


_STATUS: dict[Consumed, int] = {
    "used": 410,
    "expired": 410,
    "forbidden": 403,
    "missing": 404,
    "ok": 204,
}
