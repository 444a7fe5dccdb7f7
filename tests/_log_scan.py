"""A scan of everything portalkit logs during the whole test run, for credentials.

conftest.py attaches one ``SecretScan`` handler to the ``portalkit`` logger at DEBUG for the
entire session, so every scenario any test drives -- successes, retries, vendor errors,
faults, the CLI, the web helpers, the router -- is covered, not only a chosen battery. At the
end of the session a record holding a sandbox key or secret, a signature, a bearer header or
a portal token fails the run. Tests that plant a secret on purpose carry the
``leaks_on_purpose`` marker and are not scanned.
"""

from __future__ import annotations

import logging
import re
import traceback

from portalkit.sandbox import load_twins

# Shapes of credentials, whatever test produced them: portal tokens in a URL fragment, a
# query string or Paylera's /p/<id> path; bearer headers; Plugipay signatures; Polar's
# session and access tokens; and e-mail addresses (personal data: Polar's portal URL carries
# the customer's, plain or %40-encoded).
PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"#t=[A-Za-z0-9_\-.]{8,}"),
    re.compile(r"[?&]token=[A-Za-z0-9_\-.]{8,}"),
    re.compile(r"/p/ps_[A-Za-z0-9]{8,}"),
    re.compile(r"Bearer\s+[A-Za-z0-9_\-.]{6,}"),
    re.compile(r"v1=[0-9a-f]{64}"),
    re.compile(r"customer_session_token=[A-Za-z0-9_\-.]{8,}"),
    re.compile(r"polar_(?:cst|oat|pat)_[A-Za-z0-9]{6,}"),
    re.compile(r"[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
)

# The sandbox's secrets. Key ids are not secrets and may be logged; nor is a field every kind
# of key shares (an account's site name, e.g. Chargebee's, which is part of every URL).
SECRETS: frozenset[str] = frozenset(
    value
    for twin in load_twins()
    for fields in twin.credentials.values()
    for name, value in fields.items()
    if name != "key_id"
    and len({kind[name] for kind in twin.credentials.values() if name in kind}) > 1
)


class SecretScan(logging.Handler):
    """Collects (test, logger, what matched) for every record that shows a credential."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.current_test = "<outside a test>"
        self.paused = False
        self.leaks: list[tuple[str, str, str]] = []
        self.scanned = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.paused:
            return
        self.scanned += 1
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = f"{record.msg} {record.args}"
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        for secret in SECRETS:
            if secret in text:
                self.leaks.append((self.current_test, record.name, "a sandbox API key or secret"))
        for pattern in PATTERNS:
            if pattern.search(text):
                self.leaks.append((self.current_test, record.name, pattern.pattern))
