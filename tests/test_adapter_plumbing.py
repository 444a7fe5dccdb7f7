"""The shared plumbing every adapter reads and checks with (issue 11, item 5): the one
feature table, the secret-field check, and the lenient error-body reader."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from _vendors import VENDORS, adapter, twin

from portalkit import (
    CONFIGURATION_FEATURES,
    COSMETIC_FEATURES,
    Feature,
    available_providers,
    errors,
    get_provider_factory,
)
from portalkit import _validation as check
from portalkit._capability_docs import FEATURE_DOCS
from portalkit._features import FEATURES, SPECS
from portalkit._http import httpx
from portalkit._wire import Reply, wire_converter

# -- one feature table -----------------------------------------------------------------------


def test_every_feature_has_exactly_one_row() -> None:
    assert [spec.feature for spec in FEATURES].count(Feature.FLOW) == 1
    assert set(SPECS) == set(Feature)
    assert len(FEATURES) == len(Feature)


def test_the_policy_and_the_docs_read_the_table() -> None:
    assert {spec.feature for spec in FEATURES if spec.cosmetic} == COSMETIC_FEATURES
    assert {spec.action: spec.feature for spec in FEATURES if spec.action} == (
        CONFIGURATION_FEATURES
    )
    assert {spec.feature: (spec.field, spec.meaning) for spec in FEATURES} == FEATURE_DOCS


# -- the secret-field check ------------------------------------------------------------------


def _secret_fields(cls: Any) -> list[str]:
    def validators(field: attrs.Attribute[Any]) -> list[Any]:
        found = field.validator
        return list(getattr(found, "_validators", (found,)))

    return [f.name for f in attrs.fields(cls) if check.secret in validators(f)]


BUILTIN = [
    name
    for name in available_providers()
    if get_provider_factory(name).__module__.startswith("portalkit.providers.")
]


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_adapter_checks_its_secrets_with_the_shared_validator(name: str) -> None:
    assert _secret_fields(get_provider_factory(name)), name


def test_the_builtin_adapters_are_all_checked() -> None:
    assert len(BUILTIN) >= 7


BAD = {  # how each kind spoils a good secret
    "cr": lambda good: f"{good}ZQXVW\r",
    "lf": lambda good: f"{good}ZQXVW\nX-Injected: 1",
    "nul": lambda good: f"{good}\x00ZQXVW",
    "non-ascii": lambda good: f"{good}ZQXVé",
    "look-alike": lambda good: f"{good}ZQXVW\u200b",
    "leading-space": lambda good: f" {good}ZQXVW",
    "trailing-space": lambda good: f"{good}ZQXVW ",
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_malformed_secret_names_the_field_never_the_value(vendor: str, kind: str) -> None:
    valid = twin(vendor).credentials["valid"]
    for field in _secret_fields(get_provider_factory(vendor)):
        with pytest.raises(errors.InvalidCredential) as caught:
            adapter(vendor, credentials={**valid, field: BAD[kind](valid[field])})
        error = caught.value
        assert isinstance(error, errors.ConfigurationError)
        assert isinstance(error, errors.InvalidRequest)  # as adapters have always refused it
        assert (error.field, error.provider) == (field, vendor)
        assert field in error.message
        assert "ZQXV" not in f"{error} {error!r}"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_missing_secret_is_still_required(vendor: str) -> None:
    valid = twin(vendor).credentials["valid"]
    for field in _secret_fields(get_provider_factory(vendor)):
        with pytest.raises(errors.InvalidRequest) as caught:
            adapter(vendor, credentials={**valid, field: "  "})
        assert type(caught.value) is errors.InvalidRequest
        assert caught.value.rule == "is required"


# -- reading an error body leniently -----------------------------------------------------------


@attrs.frozen
class _Detail:
    code: str | None = None
    message: str | None = None


@attrs.frozen
class _Envelope:
    error: _Detail = _Detail()
    items: list[_Detail] = attrs.field(factory=list)


_converter = wire_converter()


def _reply(content: bytes, status: int = 400) -> Reply:
    response = httpx.Response(status, headers={"content-type": "application/json"}, content=content)
    return Reply.of(response, "toy", request_id="req_1")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"error": {"code": "bad", "message": "no"}}', _Envelope(_Detail("bad", "no"))),
        # A value of the wrong type is left out; the rest is kept.
        (b'{"error": {"code": "bad", "message": 5}}', _Envelope(_Detail("bad"))),
        (b'{"error": "bad", "items": [{"code": "a"}, 7, {"code": 1}]}',
         _Envelope(items=[_Detail("a"), _Detail()])),
        # Nothing usable: the defaults, so the status decides.
        (b"<html>", _Envelope()),
        (b"[1, 2]", _Envelope()),
        (b"", _Envelope()),
    ],
)  # fmt: skip
def test_error_body_keeps_what_fits(content: bytes, expected: _Envelope) -> None:
    assert _reply(content).error_body(_converter, _Envelope) == expected


def test_reply_error_keeps_the_request_id_and_the_status_class() -> None:
    error = _reply(b"<html>", status=404).error(code="", message="", request_id="body_id")
    assert type(error) is errors.CustomerNotFound
    assert (error.code, error.vendor_message, error.request_id) == (None, None, "req_1")
