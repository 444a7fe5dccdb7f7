"""``portalkit demo``'s customer: a browser of sorts, and the way back from the portal.

``Browser`` opens a portal link as a browser does (a token in the URL fragment is traded for
the portal cookie by the page's script; here, by the same POST) and keeps the cookies the
visits were given. ``cancel_in_each_portal`` then closes the loop: with that cookie it
submits the cancel form of each vendor's portal page, as the customer's click does; the twin
sends its vendor's webhooks to a receiver on 127.0.0.1 -- ``portalkit.web.starlette.
webhook_view``, verifying with the twin's secret -- and the demo prints the normalized events
each vendor sent back. Nothing printed holds a URL, a cookie or a secret.

Imported by the demo only once the sandbox extra (starlette, uvicorn) is known to be there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import attrs
from starlette.applications import Starlette
from starlette.routing import Route

from ._events import BillingEvent, EventType
from ._http import httpx
from ._webhooks import Webhooks
from .sandbox import serve_app
from .web.starlette import webhook_view

if TYPE_CHECKING:
    from .sandbox import Sandbox, Twin

#: Per request: the sandbox and the receiver are on this machine.
TIMEOUT = {"pool": 5.0, "connect": 5.0, "read": 5.0, "write": 5.0}
#: How long the demo waits for a vendor's deliveries to be answered.
DELIVERY_TIMEOUT = 5.0


@attrs.frozen
class Answer:
    status: int
    text: str


class Browser:
    """One customer's browser: requests through ``transport`` (not an ``httpx.Client``,
    which logs every URL at INFO: some vendors' links carry their credential in the path),
    with the cookies its answers set, each sent back under its own path, as a browser
    does."""

    def __init__(self, transport: httpx.HTTPTransport) -> None:
        self._transport = transport
        #: name -> (value, path)
        self._cookies: dict[str, tuple[str, str]] = {}

    def open_twice(self, url: str) -> tuple[int, int]:
        """The status of a first and a second visit of ``url``, as a browser makes them.

        A browser never sends a URL's fragment: when the token rides there (``#t=...``),
        the page it gets runs a script that posts the token to ``<page>/exchange`` for the
        portal cookie; a refused exchange makes the first visit a failure.
        """
        parts = urlsplit(url)
        page = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        first = self.request("GET", page).status
        tokens = [pair[2:] for pair in parts.fragment.split("&") if pair.startswith("t=")]
        if first == 200 and tokens:
            exchanged = self.request("POST", f"{page}/exchange", json={"token": tokens[0]})
            if not 200 <= exchanged.status < 300:
                first = exchanged.status
        return first, self.request("GET", page).status

    def request(
        self,
        method: str,
        url: str,
        *,
        json: object | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request, with the cookies whose path covers ``url``; a form is sent from the
        page's own origin, as a browser's form submission is."""
        parts = urlsplit(url)
        headers = {}
        cookies = [
            f"{name}={value}"
            for name, (value, path) in self._cookies.items()
            if parts.path == path or parts.path.startswith(path.rstrip("/") + "/")
        ]
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        content = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"{parts.scheme}://{parts.netloc}"
            content = urlencode(form).encode()
        request = httpx.Request(
            method,
            url,
            json=json,
            content=content,
            headers=headers,
            extensions={"timeout": TIMEOUT},
        )
        response = self._transport.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        for header in response.headers.get_list("set-cookie"):
            self._keep(header)
        return Answer(response.status_code, body.decode("utf-8", "replace"))

    def _keep(self, header: str) -> None:
        try:
            parsed = SimpleCookie(header)
        except CookieError:
            return
        for name, morsel in parsed.items():
            self._cookies[name] = (morsel.value, morsel["path"] or "/")


@attrs.define
class _Form:
    id: str
    action: str
    method: str
    fields: dict[str, str] = attrs.field(factory=dict)


class _Forms(HTMLParser):
    """The forms of a page, with their hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._open: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = _Form(
                found.get("id", ""), found.get("action", ""), found.get("method", "")
            )
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and found.get("name"):
            self._open.fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def cancel_action(twin: Twin) -> str | None:
    """The twin's portal action that schedules a cancellation, when its page has one."""
    hooks = twin.webhooks
    if hooks is None or EventType.SUBSCRIPTION_CANCEL_SCHEDULED not in hooks.changes:
        return None
    offered = {action for action, _ in twin.actions}
    return next(
        (
            action
            for action, change in hooks.action_changes.items()
            if change is EventType.SUBSCRIPTION_CANCEL_SCHEDULED and action in offered
        ),
        None,
    )


class _Received:
    """What the receiver's webhook views were handed, per vendor."""

    def __init__(self, vendors: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self.events: dict[str, list[BillingEvent]] = {vendor: [] for vendor in vendors}

    def handler(self, vendor: str) -> Callable[[BillingEvent], None]:
        def handle(event: BillingEvent) -> None:
            with self._lock:
                self.events[vendor].append(event)

        return handle

    def of(self, vendor: str) -> list[BillingEvent]:
        with self._lock:
            return list(self.events[vendor])


def cancel_in_each_portal(sandbox: Sandbox, browsers: Mapping[str, Browser], out: TextIO) -> bool:
    """Cancel a subscription in the portal page of each vendor whose twin's page can, with
    the cookie ``browsers[vendor]`` holds; print the events each vendor sent back. False when
    a vendor's page, answer or deliveries were not as they should be."""
    actions = {v: a for v in browsers if (a := cancel_action(sandbox.twin(v))) is not None}
    if not actions:
        return True
    print(
        '\nThe way back: in each portal page, the customer\'s "Cancel subscription" button'
        " (its form,\nsubmitted with the portal cookie of the first visit). Each vendor's"
        " webhooks go to a receiver\non 127.0.0.1 (portalkit.web.starlette.webhook_view),"
        " which verifies them with the twin's\nsecret and reads them into BillingEvents:\n",
        file=out,
    )
    received = _Received(list(actions))
    routes = [
        Route(
            f"/hooks/{vendor}",
            webhook_view(Webhooks.from_env(sandbox.webhook_env(vendor)), received.handler(vendor)),
            methods=["POST"],
        )
        for vendor in actions
    ]
    ok = True
    rows: list[list[str]] = []
    with serve_app(Starlette(routes=routes)) as receiver:
        for vendor, action in actions.items():
            endpoint = f"{receiver}/hooks/{vendor}"
            sandbox.add_webhook_endpoint(vendor, endpoint)
            try:
                problem = _cancel(sandbox, browsers[vendor], vendor, action)
            finally:
                sandbox.remove_webhook_endpoint(vendor, endpoint)
            events = received.of(vendor)
            if problem is None and not any(
                e.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED for e in events
            ):
                problem = "no subscription_cancel_scheduled among its events"
            if problem is not None:
                ok = False
                rows.append([vendor, f"FAILED: {problem}", "", "", ""])
            for index, event in enumerate(events):
                rows.append(
                    [
                        vendor if index == 0 and problem is None else "",
                        event.type.value,
                        event.vendor_type,
                        event.subscription_id or "-",
                        "-" if event.ends_at is None else f"{event.ends_at:%Y-%m-%d %H:%M:%S}",
                    ]
                )
    header = ["vendor", "event", "vendor's event", "subscription", "ends at (UTC)"]
    _print_rows(header, rows, out)
    return ok


def _cancel(sandbox: Sandbox, browser: Browser, vendor: str, action: str) -> str | None:
    """Submit the page's first ``action`` form and wait for the deliveries it queued; what
    went wrong, or None."""
    page_url = f"{sandbox.url}/{vendor}/session"
    page = browser.request("GET", page_url)
    if page.status != 200:
        return f"its portal page answered {page.status}"
    parser = _Forms()
    parser.feed(page.text)
    form = next((f for f in parser.forms if f.id.startswith(f"act-{action}-")), None)
    if form is None or form.method.lower() != "post":
        return f"no {action} form on its portal page"
    answer = browser.request("POST", urljoin(page_url, form.action), form=form.fields)
    if answer.status != 303:
        return f"the {action} form was answered {answer.status}"
    # The change's events were queued before the answer: wait until each is answered.
    queued = len(sandbox.deliveries(vendor))
    try:
        deliveries = sandbox.wait_for_deliveries(vendor, queued, timeout=DELIVERY_TIMEOUT)
    except TimeoutError:
        return f"its webhooks were not answered within {DELIVERY_TIMEOUT:g} s"
    refused = [d for d in deliveries if not d.delivered]
    if refused:
        return f"{len(refused)} of its webhook deliveries were refused"
    return None


def _print_rows(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[col]) for row in table) for col in range(len(header))]
    for index, row in enumerate(table):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip(), file=out)
        if index == 0:
            print("  ".join("-" * width for width in widths), file=out)
