"""The portalkit error tree.

Every failure that reaches a caller of ``Portal.create_link`` is one of these::

    PortalError                      anything portalkit raises
    ├── InvalidRequest               refused locally, or the vendor said 400/422
    │   └── UnsupportedFeature       the vendor cannot do what was asked (raised before sending)
    ├── AuthenticationFailed         401: wrong key, bad signature
    ├── PermissionDenied             403: the key lacks the portal scope
    ├── CustomerNotFound             the vendor said so (a 404 or its own code, in its error
    │                                envelope): no such customer in this account; the one
    │                                error a MigrationRouter falls back on
    ├── NoPortalYet                  the customer exists but has no portal yet (e.g. no
    │                                subscription): not retryable until that changes
    ├── IdempotencyConflict          409: the same idempotency key with another body
    ├── AmbiguousCustomer            409: the app's own id for the customer names several
    │                                customers at the vendor
    ├── RateLimited                  429, once retries or the deadline are spent (``retry_after``)
    ├── ProviderUnavailable          5xx, 408, transport failures, once retries are spent
    │   └── InvalidResponse          a body portalkit cannot read: malformed, truncated, too large
    ├── UnexpectedEndpoint           an error status whose body is not the vendor's own error
    │                                answer (a wrong base URL path, a proxy's page): no
    │                                verdict of the vendor's; check the host it names
    ├── DeepLinkNotFound             PortalLink.deep_link: no such link was minted
    ├── PortalClosed                 the Portal was used after close() (or its http_client
    │                                was closed): nothing was sent; not retried
    ├── WebhookRejected              a webhook delivery failed verification (``reason``)
    └── ConfigurationError           portalkit is set up wrong: a missing or malformed
        │                            environment variable, an unknown provider name, a
        │                            route to a provider the router does not have
        └── InvalidCredential        an adapter's key or secret cannot be sent (a CR, LF,
                                     NUL, non-ASCII character or surrounding whitespace);
                                     also an InvalidRequest, as adapters refused it before

The vendor's verdicts on a request (``InvalidRequest``, ``AuthenticationFailed``,
``PermissionDenied``, ``CustomerNotFound``, ``IdempotencyConflict``, ``AmbiguousCustomer``)
come only from an answer in the vendor's own error envelope. An error status whose body is
not the vendor's (a plain-text 404, an HTML page, a framework's ``{"detail": "Not Found"}``)
is ``UnexpectedEndpoint`` -- except 408, 429 and 5xx, which stay ``ProviderUnavailable`` /
``RateLimited`` and are retried: a proxy's 503 page is still an outage.

Each error carries the provider name, the HTTP status (None when no response came back),
the vendor's own error code and message, and the vendor's request id, so support tickets can
quote them. Messages never contain API keys, signatures or portal URLs; a
``WebhookRejected`` never holds the webhook secret, the signature or the body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict, Unpack

__all__ = [
    "AmbiguousCustomer",
    "AuthenticationFailed",
    "ConfigurationError",
    "CustomerNotFound",
    "DeepLinkNotFound",
    "ErrorContext",
    "IdempotencyConflict",
    "InvalidCredential",
    "InvalidRequest",
    "InvalidResponse",
    "NoPortalYet",
    "PermissionDenied",
    "PortalClosed",
    "PortalError",
    "ProviderUnavailable",
    "RateLimited",
    "RejectionReason",
    "UnexpectedEndpoint",
    "UnsupportedFeature",
    "WebhookRejected",
    "error_class_for_status",
]


class ErrorContext(TypedDict, total=False):
    """Where an error came from: shared by every PortalError constructor."""

    provider: str | None
    status: int | None
    code: str | None
    vendor_message: str | None
    request_id: str | None


class PortalError(Exception):
    """Base of every error portalkit raises."""

    #: Whether Portal may retry the call that raised this (with the same idempotency key).
    #: An adapter may set it on one error from the vendor's own retry hint; that wins.
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        vendor_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.vendor_message = vendor_message
        self.request_id = request_id

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("provider", self.provider),
                ("status", self.status),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        text = self.message
        if self.vendor_message and self.vendor_message not in text:
            text = f"{text}: {self.vendor_message}"
        return f"{text} ({', '.join(details)})" if details else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class InvalidRequest(PortalError):
    """The request was refused: by local validation before sending, or by the vendor (400/422).

    ``field`` names the offending request field and ``rule`` the rule it broke, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        **context: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **context)
        self.field = field
        self.rule = rule

    @classmethod
    def local(cls, field: str, rule: str, provider: str | None = None) -> InvalidRequest:
        """A validation failure found before any request was sent."""
        return cls(f"{field}: {rule}", field=field, rule=rule, provider=provider)


class UnsupportedFeature(InvalidRequest):
    """The vendor cannot do what the request asks; raised before anything is sent.

    ``feature`` is the :class:`portalkit.Feature` value that the provider lacks.
    """

    def __init__(
        self,
        message: str,
        *,
        feature: str,
        field: str | None = None,
        rule: str | None = None,
        **context: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, field=field, rule=rule, **context)
        self.feature = feature


class AuthenticationFailed(PortalError):
    """401: the credentials were refused (wrong key, bad or stale signature)."""


class PermissionDenied(PortalError):
    """403: the credentials are valid but may not mint portal sessions (missing scope)."""


class CustomerNotFound(PortalError):
    """The vendor knows no such customer in this account: its own answer said so (a 404 in
    its error envelope, or its own code for it). Never inferred from a status alone: a 404
    whose body is not the vendor's is ``UnexpectedEndpoint``. The one error a
    ``MigrationRouter`` falls back on."""


class NoPortalYet(PortalError):
    """The customer exists, but the vendor has no portal link for them yet -- typically
    because they have never had a subscription. Retrying does not help until that changes;
    the application should show its own billing page (or a checkout) instead."""


class IdempotencyConflict(PortalError):
    """409: the idempotency key was already used with a different request body."""


class AmbiguousCustomer(PortalError):
    """409: the request named the customer by the app's own id
    (``CustomerIdKind.EXTERNAL``), and the vendor holds more than one customer with that id
    (e.g. in several organizations the credentials can reach), so it would not guess which.
    Not retried: the same request gets the same answer. Name the customer by the vendor's
    own id instead, or use credentials that reach only one of them."""


class RateLimited(PortalError):
    """429: too many requests. ``retry_after`` is the vendor's wait in seconds, when given."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        **context: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_after is not None:
            text = f"{text}; retry after {self.retry_after:g}s"
        return text


class ProviderUnavailable(PortalError):
    """The vendor could not be reached or failed (5xx, 408, timeouts, dropped connections)."""

    retryable = True


class InvalidResponse(ProviderUnavailable):
    """The vendor answered with a body portalkit cannot use: not JSON, truncated, missing
    required fields, of the wrong content type, or larger than the configured limit."""


class UnexpectedEndpoint(PortalError):
    """An error status whose body is not the vendor's own error answer: the endpoint did not
    answer as the vendor's API does, so the status is no verdict of the vendor's. Typically
    a base URL with a wrong path (a stray ``/v1``, a proxy's prefix) answered by a web server
    or framework's own 404 page, or a proxy, firewall or another service on that host
    answering for the vendor. ``host`` names the host that answered (the base URL's, with
    its port when one is given): check the base URL and what stands between portalkit and
    the vendor. Never a ``CustomerNotFound`` (a router does not fall back on it), and not
    retried: the same endpoint gives the same answer. 408, 429 and 5xx answers in another
    shape are not this error: they stay ``ProviderUnavailable`` / ``RateLimited``.

    Not a ``ConfigurationError``: a request was sent, and the cause may lie outside
    portalkit's settings (a proxy or firewall in between)."""

    def __init__(
        self, message: str, *, host: str | None = None, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.host = host


class DeepLinkNotFound(PortalError, LookupError):
    """``PortalLink.deep_link`` was asked for an (action, subscription) the vendor did not mint."""


class PortalClosed(PortalError):
    """A ``Portal`` was used after ``close()`` (an ``AsyncPortal`` after ``aclose()``), or the
    ``http_client`` it was given has been closed: nothing was sent. Not retried: a closed
    portal stays closed. Make a new ``Portal``, or keep it open for as long as the app mints
    links (one per process is the usual shape)."""


class RejectionReason(StrEnum):
    """Why a webhook delivery was refused: a closed set, the same for every vendor."""

    #: The vendor's signature header (or, for a vendor that signs nothing, its credentials)
    #: is absent.
    MISSING_SIGNATURE = "missing_signature"
    #: No signature in the delivery matches the body under any configured secret.
    SIGNATURE_MISMATCH = "signature_mismatch"
    #: The signed timestamp is further in the past (or the future) than the tolerance.
    TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
    #: The signature header cannot be read, or the body is not the vendor's JSON event.
    MALFORMED = "malformed"
    #: The body is larger than the limit; it was not read.
    TOO_LARGE = "too_large"
    #: A vendor that authenticates its deliveries with credentials sent the wrong ones.
    WRONG_CREDENTIALS = "wrong_credentials"


class WebhookRejected(PortalError):
    """A webhook delivery was refused before the app saw it: answer it 400 and do nothing.

    ``reason`` says why (``RejectionReason``). The message names the provider and the rule
    that failed; it never holds the secret, the signature, the credentials or the body.
    """

    def __init__(
        self, message: str, *, reason: RejectionReason, **context: Unpack[ErrorContext]
    ) -> None:
        super().__init__(message, **context)
        self.reason = reason


class ConfigurationError(PortalError):
    """portalkit is set up wrong, so no request was sent: a missing or malformed environment
    variable (``variable`` names it; its value is never shown), an unknown or broken provider
    plug-in, or a route to a provider the router was not given."""

    def __init__(
        self,
        message: str,
        *,
        variable: str | None = None,
        field: str | None = None,
        **context: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **context)
        self.variable = variable
        #: The adapter setting at fault (``api_key``), when it is one; its value is never shown.
        self.field = field


class InvalidCredential(ConfigurationError, InvalidRequest):
    """An adapter was built with a key or secret that cannot be sent: a CR, LF or NUL (the
    HTTP stack would refuse it at every call), a non-ASCII character, surrounding whitespace.
    ``field`` names the setting (``api_key``); its value is never shown. Both a
    ``ConfigurationError`` (the set-up is wrong) and an ``InvalidRequest`` (the adapter's
    argument was refused before anything was sent, as adapters have always reported it)."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        **context: Unpack[ErrorContext],
    ) -> None:
        super().__init__(message, **context)
        self.field = field
        self.rule = rule


_STATUS_TO_ERROR: dict[int, type[PortalError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: CustomerNotFound,
    408: ProviderUnavailable,
    409: IdempotencyConflict,
    422: InvalidRequest,
    429: RateLimited,
}


def error_class_for_status(status: int) -> type[PortalError]:
    """The portalkit error class for an HTTP error status, whatever the vendor, once the
    answer is known to be the vendor's own error envelope (an adapter's ``parse_error``
    decides that; an answer in another shape is ``Reply.unexpected_endpoint``'s)."""
    if status in _STATUS_TO_ERROR:
        return _STATUS_TO_ERROR[status]
    if status >= 500:
        return ProviderUnavailable
    return PortalError
