"""portalkit.web's framework-free core: the status for every error, and no framework
imported before its helper is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portalkit import errors
from portalkit.web import SECURITY_HEADERS, refusal_for

FRAMEWORKS = ("starlette", "fastapi", "flask", "django")
WORDS = "the-error's-own-words"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.CustomerNotFound(WORDS), 404),
        (errors.InvalidRequest(WORDS), 400),
        (errors.UnsupportedFeature(WORDS, feature="locale"), 400),
        (errors.AuthenticationFailed(WORDS), 502),
        (errors.PermissionDenied(WORDS), 502),
        (errors.IdempotencyConflict(WORDS), 502),
        (errors.RateLimited(WORDS, retry_after=3), 502),
        (errors.ProviderUnavailable(WORDS), 502),
        (errors.InvalidResponse(WORDS), 502),
        (errors.DeepLinkNotFound(WORDS), 502),
        (errors.PortalError(WORDS), 502),
    ],
)
def test_every_error_has_a_status(error: errors.PortalError, status: int) -> None:
    refusal = refusal_for(error)
    assert refusal.status == status
    assert WORDS not in refusal.message  # generic: nothing of the error's own text


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
