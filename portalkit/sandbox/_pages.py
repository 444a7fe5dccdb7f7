"""The hosted portal: each session's single-use link, traded on first use for an httpOnly
cookie scoped to ``/{vendor}/session``, the cookie-authenticated portal page there, and 410
Gone for a link used twice or after it expired.

Links (as the create routes mint them):

- Plugipay ``/plugipay/portal/ps_...#t=<token>``: the token is in the fragment, which the
  browser never sends, so GET answers a small page whose script POSTs the token to
  ``/plugipay/portal/ps_.../exchange`` (204 + cookie), then opens ``/plugipay/session``.
- Paylera ``/paylera/p/ps_...``: the path is the credential; GET answers the portal (200)
  and sets the cookie.
- Paddle ``/paddle/cpl_...?action=...&token=...``: GET checks the token and answers the
  portal with the deep link's action pre-opened (200) and sets the cookie.

The cookie's path keeps it away from the link paths, so a second use of a link is 410 even
in the browser that used it first.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import _html as html
from ._store import Consumed, PortalCookie, Session, Store

COOKIE = "portalkit_sandbox_portal"
PADDLE_ACTIONS = ("overview", "cancel_subscription", "update_subscription_payment_method")


def _page(content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status, {"Content-Security-Policy": html.CONTENT_SECURITY_POLICY})


def _refused(outcome: Consumed) -> HTMLResponse:
    if outcome in ("used", "expired"):
        return _page(html.gone_page(outcome), 410)
    if outcome == "forbidden":
        return _page(
            html.error_page("invalid-link", "Invalid portal link", "This link's token is wrong."),
            403,
        )
    return _page(html.error_page("not-found", "No such portal link", "Check the link."), 404)


class PortalPages:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/plugipay/session", self.session_page, methods=["GET"]),
            Route("/paylera/session", self.session_page, methods=["GET"]),
            Route("/paddle/session", self.session_page, methods=["GET"]),
            Route("/plugipay/portal/{session_id}", self.plugipay_link, methods=["GET"]),
            Route(
                "/plugipay/portal/{session_id}/exchange", self.plugipay_exchange, methods=["POST"]
            ),
            Route("/paylera/p/{session_id}", self.paylera_link, methods=["GET"]),
            Route("/paddle/{link_id}", self.paddle_link, methods=["GET"]),
            Route(html.EXCHANGE_SCRIPT_PATH, self.exchange_script, methods=["GET"]),
        ]

    # -- the links -----------------------------------------------------------------------

    async def plugipay_link(self, request: Request) -> Response:
        session = self.store.session("plugipay", request.path_params["session_id"])
        if session is None:
            return _refused("missing")
        if session.used:
            return _refused("used")
        if session.expired(self.store.now()):
            return _refused("expired")
        return _page(html.exchange_page("plugipay"))

    async def plugipay_exchange(self, request: Request) -> Response:
        try:
            token = json.loads(await request.body()).get("token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str):
            return Response(status_code=400)
        session_id = request.path_params["session_id"]
        outcome = self.store.consume("plugipay", session_id, token)
        if outcome != "ok":
            return Response(status_code=_STATUS[outcome])
        response = Response(status_code=204)
        self._set_cookie(response, PortalCookie("plugipay", session_id, None, None))
        return response

    async def paylera_link(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        return self._open(request, "paylera", session_id, None, None, None)

    async def paddle_link(self, request: Request) -> Response:
        session = self.store.session_by_link(request.path_params["link_id"])
        action = request.query_params.get("action", "overview")
        subscription_id = request.query_params.get("subscription_id")
        if session is None or action not in PADDLE_ACTIONS:
            return _refused("missing")
        if action == "overview":
            subscription_id = None
        elif subscription_id not in session.subscription_ids:
            return _refused("missing")
        token = request.query_params.get("token", "")
        shown = None if action == "overview" else action
        return self._open(request, "paddle", session.id, token, shown, subscription_id)

    def _open(
        self,
        request: Request,
        vendor: str,
        session_id: str,
        token: str | None,
        action: str | None,
        subscription_id: str | None,
    ) -> Response:
        """First visit of a link: use it up, set the cookie, show the portal."""
        if request.method == "HEAD":  # a HEAD probe must not use the link up
            return Response(status_code=200 if self.store.session(vendor, session_id) else 404)
        outcome = self.store.consume(vendor, session_id, token)
        session = self.store.session(vendor, session_id)
        if outcome != "ok" or session is None:
            return _refused(outcome)
        response = self._portal(session, action, subscription_id)
        self._set_cookie(response, PortalCookie(vendor, session_id, action, subscription_id))
        return response

    # -- the cookie-authenticated portal ---------------------------------------------------

    async def session_page(self, request: Request) -> Response:
        vendor = request.url.path.split("/")[1]
        cookie = self.store.cookie(request.cookies.get(COOKIE))
        session = self.store.session(vendor, cookie.session_id) if cookie else None
        if cookie is None or session is None or cookie.vendor != vendor:
            return _page(
                html.error_page(
                    "no-session", "Not signed in", "Open the portal through a portal link."
                ),
                401,
            )
        return self._portal(session, cookie.action, cookie.subscription_id)

    def _portal(
        self, session: Session, action: str | None, subscription_id: str | None
    ) -> HTMLResponse:
        try:
            subscriptions = self.store.subscriptions(session.vendor, session.customer_id)
        except KeyError:
            subscriptions = []
        return _page(html.portal_page(session, subscriptions, action, subscription_id))

    def _set_cookie(self, response: Response, cookie: PortalCookie) -> None:
        response.set_cookie(
            COOKIE,
            self.store.new_cookie(cookie),
            path=f"/{cookie.vendor}/session",
            httponly=True,
            samesite="lax",
        )

    async def exchange_script(self, request: Request) -> Response:
        return Response(html.EXCHANGE_SCRIPT, media_type="text/javascript")


_STATUS: dict[Consumed, int] = {
    "used": 410,
    "expired": 410,
    "forbidden": 403,
    "missing": 404,
    "ok": 204,
}
