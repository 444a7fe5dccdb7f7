"""Paylera: ``POST /v1/portal/sessions``.

Vendor docs: Paylera -> Customer portal (generating a session, locale and branding,
restricting actions). What portalkit decided where that page is silent (the API host, the
auth header, the error envelope, the customer-id format) is in docs/providers/paylera.md.

Wire shape::

    POST {base_url}/v1/portal/sessions
    Authorization: Bearer <api key>        ASSUMED: the page never shows the auth header
    Idempotency-Key: <uuid>
    {"customer_id": "cus_...", "return_url": "https://...", "locale": "fr",
     "configuration": {"subscription_cancel_enabled": false,
                       "subscription_update_enabled": false,
                       "payment_method_update_enabled": true}}

    2xx {"id": "ps_...", "url": "https://portal.paylera.io/p/ps_...", "expires_at": "..."}

Links are single-use and expire in 60 minutes. The per-session configuration covers cancel,
plan change and payment-method update; invoices cannot be configured per session.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import Action, Feature, PortalLink, PortalRequest
from portalkit._wire import (
    USER_AGENT,
    Reply,
    json_body,
    merge_options,
    request_id_from_headers,
    strip_slash,
    wire_converter,
)
from portalkit.errors import InvalidRequest, PortalError

#: ASSUMPTION: the docs show the portal host (portal.paylera.io), not the API host.
API_BASE_URL = "https://api.paylera.io"
PATH = "/v1/portal/sessions"
#: ASSUMPTION: the docs only show "cus_…"; we require the prefix and a plain id after it.
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,64}")

# PortalConfiguration action -> Paylera's per-session configuration key.
_CONFIGURATION_KEYS: dict[Action, str] = {
    Action.CANCEL_SUBSCRIPTION: "subscription_cancel_enabled",
    Action.UPDATE_SUBSCRIPTION: "subscription_update_enabled",
    Action.UPDATE_PAYMENT_METHOD: "payment_method_update_enabled",
}


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Session:
    id: str
    url: str
    expires_at: str


# ASSUMPTION: the error envelope is {"error": {"type", "code", "message"}}.
@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    type: str | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ErrorEnvelope:
    error: _Error = _Error()


_converter = wire_converter()


def _base_url(instance: Paylera, attribute: attrs.Attribute[str], value: str) -> None:
    check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


@attrs.frozen
class Paylera:
    """Paylera adapter. ``Paylera(api_key=...)``."""

    name: ClassVar[str] = "paylera"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {
            Feature.RETURN_URL,
            Feature.LOCALE,
            Feature.IDEMPOTENCY_KEY,
            Feature.PROVIDER_OPTIONS,
            Feature.CONFIGURE_CANCEL_SUBSCRIPTION,
            Feature.CONFIGURE_UPDATE_SUBSCRIPTION,
            Feature.CONFIGURE_UPDATE_PAYMENT_METHOD,
        }
    )
    #: Where its portal links live (portal.paylera.io/p/<session>).
    portal_hosts: ClassVar[tuple[str, ...]] = ("portal.paylera.io",)

    api_key: str = attrs.field(repr=False, validator=check.secret)
    base_url: str = attrs.field(default=API_BASE_URL, converter=strip_slash, validator=_base_url)
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Paylera:
        """``PAYLERA_API_KEY`` (required), ``PAYLERA_BASE_URL`` (optional)."""
        return cls(
            api_key=env.require("api_key"), base_url=env.get("base_url", default=API_BASE_URL)
        )

    def build_request(self, request: PortalRequest) -> httpx.Request:
        check.require_pattern(
            "customer_id",
            request.customer_id,
            CUSTOMER_ID,
            "cus_ followed by letters and digits",
            self.name,
        )
        if request.idempotency_key is None:
            raise InvalidRequest.local(
                "idempotency_key", "is required by paylera", provider=self.name
            )
        payload: dict[str, Any] = {"customer_id": request.customer_id}
        if request.return_url is not None:
            payload["return_url"] = request.return_url
        if request.locale is not None:
            payload["locale"] = request.locale
        if request.configuration is not None:
            payload["configuration"] = {
                _CONFIGURATION_KEYS[action]: allowed
                for action, allowed in request.configuration.overrides().items()
            }
        merge_options(payload, request.options_for(self.name), self.name)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {self.api_key}",
            "Idempotency-Key": request.idempotency_key,
        }
        return httpx.Request(
            "POST", self.base_url + PATH, headers=headers, content=json_body(payload)
        )

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        body = reply.json_object()
        session = reply.structure(_converter, body, _Session)
        return PortalLink(
            provider=self.name,
            session_id=session.id,
            # Paylera echoes neither the customer nor the return URL: the session is bound
            # to the customer that was sent.
            customer_id=request.customer_id,
            url=session.url,
            expires_at=reply.timestamp(session.expires_at, "expires_at"),
            created_at=None,  # not reported by Paylera
            return_url=request.return_url,
            request_id=reply.request_id,
            raw=body,
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        if not reply.has_error_object("type", "code"):  # Paylera's own answer, or another's
            return reply.unexpected_endpoint()
        error = reply.error_body(_converter, _ErrorEnvelope).error
        return reply.error(
            code=error.code or error.type, message=error.message, request_id=error.request_id
        )


def _request_id(response: httpx.Response) -> str | None:
    return request_id_from_headers(response, "Request-Id", "X-Request-Id")
