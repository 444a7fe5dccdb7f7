"""portalkit.web's framework-free core: the status for every error, and no framework
imported before its helper is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portalkit import errors
from portalkit.web import SECURITY_HEADERS, Refusal, RefusalKind, refusal_for

FRAMEWORKS = ("starlette", "fastapi", "flask", "django")
WORDS = "the-error's-own-words"


K = RefusalKind


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (errors.CustomerNotFound(WORDS), 404, K.NOT_FOUND),
        (errors.NoPortalYet(WORDS), 404, K.NO_PORTAL_YET),
        (errors.InvalidRequest(WORDS), 400, K.CANNOT_OPEN),
        (errors.UnsupportedFeature(WORDS, feature="locale"), 400, K.CANNOT_OPEN),
        (errors.AuthenticationFailed(WORDS), 502, K.UNAVAILABLE),
        (errors.PermissionDenied(WORDS), 502, K.UNAVAILABLE),
        (errors.IdempotencyConflict(WORDS), 502, K.UNAVAILABLE),
        (errors.AmbiguousCustomer(WORDS), 502, K.UNAVAILABLE),
        (errors.RateLimited(WORDS, retry_after=3), 502, K.UNAVAILABLE),
        (errors.ProviderUnavailable(WORDS), 502, K.UNAVAILABLE),
        (errors.InvalidResponse(WORDS), 502, K.UNAVAILABLE),
        (errors.UnexpectedEndpoint(WORDS, host="api.example.com", status=404), 502, K.UNAVAILABLE),
        (errors.DeepLinkNotFound(WORDS), 502, K.UNAVAILABLE),
        (errors.ConfigurationError(WORDS), 502, K.UNAVAILABLE),
        (errors.PortalError(WORDS), 502, K.UNAVAILABLE),
    ],
)
def test_every_error_has_a_status_and_a_kind(
    error: errors.PortalError, status: int, kind: RefusalKind
) -> None:
    error.vendor_message = WORDS
    error.provider, error.request_id = "acme", "req_1"
    refusal = refusal_for(error)
    assert (refusal.status, refusal.kind) == (status, kind)
    assert WORDS not in refusal.message  # generic: nothing of the error's own text
    assert WORDS not in repr(refusal)
    assert (refusal.provider, refusal.request_id) == ("acme", "req_1")


def test_a_refusal_equals_another_by_its_answer_only() -> None:
    """The constants compare equal to a refusal for one error, whatever its provider."""
    first = refusal_for(errors.CustomerNotFound("x", provider="acme", request_id="req_1"))
    second = refusal_for(errors.CustomerNotFound("y", provider="other"))
    assert (
        first
        == second
        == Refusal(404, "No billing account was found for you.", kind=RefusalKind.NOT_FOUND)
    )
    assert first != refusal_for(errors.NoPortalYet("x"))


def test_every_answer_is_uncacheable_and_sends_no_referrer() -> None:
    assert dict(SECURITY_HEADERS) == {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def imported_after(statement: str) -> set[str]:
    """The web frameworks imported by ``statement`` in a fresh interpreter."""
    code = (
        f"import sys; {statement}; print(' '.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    output = subprocess.run(  # noqa: S603 -- this interpreter, running code written here
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


def test_no_framework_is_imported_until_its_helper_is() -> None:
    assert imported_after("import portalkit, portalkit.web") == set()
    assert imported_after("import portalkit.web.flask") == {"flask"}
    assert imported_after("import portalkit.web.django") == {"django"}
    assert imported_after("import portalkit.web.starlette") == {"starlette"}
