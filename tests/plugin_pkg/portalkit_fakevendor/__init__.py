"""FakeVendor: a third-party portalkit adapter, written as a plug-in package would write it.

It imports only portalkit's public names and registers itself in its pyproject.toml::

    [project.entry-points."portalkit.providers"]
    fakevendor = "portalkit_fakevendor:FakeVendor"

Its wire shape is invented for the tests::

    POST {base_url}/portal
    Authorization: Bearer <FAKEVENDOR_TOKEN>
    {"customer": "fv_...", "return_to": "https://..."}

    200 {"session": "fvs_...", "link": "https://portal.fakevendor.test/s/<token>", "ttl": 600}
    4xx/5xx {"message": "..."}
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs

from portalkit import Feature, PortalLink, PortalRequest, ProviderEnv, errors
from portalkit._http import httpx

DEFAULT_BASE_URL = "https://api.fakevendor.test"


@attrs.frozen
class FakeVendor:
    """FakeVendor adapter: ``FakeVendor(token=...)``."""

    name: ClassVar[str] = "fakevendor"
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.RETURN_URL})
    portal_hosts: ClassVar[tuple[str, ...]] = ("portal.fakevendor.test",)

    token: str = attrs.field(repr=False)
    base_url: str = DEFAULT_BASE_URL

    def __attrs_post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost"):
            raise errors.InvalidRequest.local("base_url", "must use https://", provider=self.name)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> FakeVendor:
        """``FAKEVENDOR_TOKEN`` (required), ``FAKEVENDOR_BASE_URL`` (optional)."""
        return cls(token=env.require("token"), base_url=env.get("base_url", DEFAULT_BASE_URL))

    def build_request(self, request: PortalRequest) -> httpx.Request:
        payload: dict[str, Any] = {"customer": request.customer_id}
        if request.return_url is not None:
            payload["return_to"] = request.return_url
        return httpx.Request(
            "POST",
            f"{self.base_url.rstrip('/')}/portal",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            json=payload,
        )

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        try:
            body = json.loads(response.content)
            session, link, ttl = str(body["session"]), str(body["link"]), int(body["ttl"])
        except (ValueError, KeyError, TypeError):
            raise errors.InvalidResponse(
                "fakevendor sent an unreadable answer",
                provider=self.name,
                status=response.status_code,
            ) from None
        return PortalLink(
            provider=self.name,
            session_id=session,
            customer_id=request.customer_id,
            url=link,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
            return_url=request.return_url,
            raw=body,
        )

    def parse_error(self, response: httpx.Response) -> errors.PortalError:
        try:
            message = str(json.loads(response.content)["message"])
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        error_class = errors.error_class_for_status(response.status_code)
        return error_class(message, provider=self.name, status=response.status_code)
