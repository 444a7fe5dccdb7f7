"""The sandbox's fixed starting state: credentials and customers, the same in every run.

These literal values are what docs/sandbox.md lists and what ``portalkit sandbox`` prints.
They are sandbox-only: no real vendor accepts them.
"""

from __future__ import annotations

from typing import Literal

Vendor = Literal["plugipay", "paylera", "paddle"]
KeyKind = Literal["valid", "wrong", "no_scope"]
VENDORS: tuple[Vendor, ...] = ("plugipay", "paylera", "paddle")
KEY_KINDS: tuple[KeyKind, ...] = ("valid", "wrong", "no_scope")

#: The merchant account the Plugipay keys belong to.
PLUGIPAY_ACCOUNT = "acc_01HZSEED00000000000000ACCT"

#: Constructor keyword arguments of each adapter, per kind of key. "wrong" is refused with
#: 401; "no_scope" authenticates but lacks the portal scope (403).
CREDENTIALS: dict[Vendor, dict[KeyKind, dict[str, str]]] = {
    "plugipay": {
        "valid": {"key_id": "pk_sandbox_portal", "key_secret": "sandbox-plugipay-secret"},
        # The right key id with the wrong secret: the signature does not verify.
        "wrong": {"key_id": "pk_sandbox_portal", "key_secret": "sandbox-plugipay-wrong-secret"},
        "no_scope": {"key_id": "pk_sandbox_readonly", "key_secret": "sandbox-plugipay-readonly"},
    },
    "paylera": {
        "valid": {"api_key": "sk_sandbox_paylera_portal"},
        "wrong": {"api_key": "sk_sandbox_paylera_wrong"},
        "no_scope": {"api_key": "sk_sandbox_paylera_readonly"},
    },
    "paddle": {
        "valid": {"api_key": "pdl_sdbx_apikey_portalkit_portal"},
        "wrong": {"api_key": "pdl_sdbx_apikey_portalkit_wrong"},
        "no_scope": {"api_key": "pdl_sdbx_apikey_portalkit_readonly"},
    },
}

#: Seeded customers and their subscriptions, in order: the first customer has two
#: subscriptions, the second one, the third none.
CUSTOMERS: dict[Vendor, dict[str, tuple[str, ...]]] = {
    "plugipay": {
        "cus_01HZSEED000000000000000001": (
            "sub_01HZSEED000000000000000101",
            "sub_01HZSEED000000000000000102",
        ),
        "cus_01HZSEED000000000000000002": ("sub_01HZSEED000000000000000201",),
        "cus_01HZSEED000000000000000003": (),
    },
    "paylera": {
        "cus_sandbox0001": ("sub_sandbox0101", "sub_sandbox0102"),
        "cus_sandbox0002": ("sub_sandbox0201",),
        "cus_sandbox0003": (),
    },
    "paddle": {
        "ctm_01hzseed000000000000000001": (
            "sub_01hzseed000000000000000101",
            "sub_01hzseed000000000000000102",
        ),
        "ctm_01hzseed000000000000000002": ("sub_01hzseed000000000000000201",),
        "ctm_01hzseed000000000000000003": (),
    },
}
