"""Fresh ids and tokens in each vendor's format.

Session ids, tokens and cookies come from ``secrets``: a portal URL is a bearer credential,
so the sandbox makes its secret parts as unguessable as a real vendor would.
"""

from __future__ import annotations

import re
import secrets
import uuid

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def ulid(now: float) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base32 characters."""
    value = (int(now * 1000) & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def base62(length: int) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def token() -> str:
    """A single-use portal token (256 bits)."""
    return secrets.token_urlsafe(32)


def plugipay_request_id(now: float) -> str:
    return f"req_{ulid(now)}"


def paylera_request_id(now: float) -> str:
    return f"req_{base62(24)}"


def paddle_request_id(now: float) -> str:
    return str(uuid.uuid4())


# Customer and subscription id formats per vendor: what add_customer/add_subscription accept
# and what they generate. Plugipay ids are ULIDs (either case, as its adapter accepts); Paddle's
# follow its documented ^ctm_[a-z\d]{26}$ / ^sub_[a-z\d]{26}$; Paylera only shows "cus_…".
_ULID = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"
CUSTOMER_PATTERNS = {
    "plugipay": re.compile(rf"cus_{_ULID}"),
    "paylera": re.compile(r"cus_[A-Za-z0-9]{1,64}"),
    "paddle": re.compile(r"ctm_[a-z\d]{26}"),
}
SUBSCRIPTION_PATTERNS = {
    "plugipay": re.compile(rf"sub_{_ULID}"),
    "paylera": re.compile(r"sub_[A-Za-z0-9]{1,64}"),
    "paddle": re.compile(r"sub_[a-z\d]{26}"),
}


def new_object_id(vendor: str, prefix: str, now: float) -> str:
    """A fresh customer (``cus``/``ctm``) or subscription (``sub``) id for ``vendor``."""
    if vendor == "plugipay":
        return f"{prefix}_{ulid(now)}"
    if vendor == "paddle":
        return f"{prefix}_{ulid(now).lower()}"
    return f"{prefix}_{base62(14)}"
