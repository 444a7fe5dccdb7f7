"""What a request asks for, and what happens when the provider cannot do it.

The rule: a feature whose absence would change what the customer may do (a per-session
configuration, acting for another merchant account, naming the customer by the app's own
id, vendor-specific fields whose meaning portalkit cannot judge, a plan change to confirm, a
discount or a retention offer) is refused with ``UnsupportedFeature`` before anything is
sent. A cosmetic hint (locale, return URL, deep links, the page the portal opens at, what it
does after a flow, an explicit idempotency key) is dropped and listed in
``PortalLink.ignored_fields`` -- unless the caller chose ``strict=True``, which refuses every
unsupported field.

A provider that supports a feature for some values only (a vendor with its own list of
locales) may define ``accepts(feature, request) -> bool``; a False answer makes the feature
unsupported for that request, so the same rule drops or refuses it.

``judge`` says what the rule does with each feature a request asks for; ``apply_feature_policy``
(every create) and ``Portal.preview`` (``portalkit._preview``) both act on its verdicts.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, NamedTuple

import attrs

from ._features import FEATURES, SPECS
from ._models import Action, Feature, Flow, PortalConfiguration, PortalRequest
from ._protocol import PortalProvider
from .errors import UnsupportedFeature

COSMETIC_FEATURES: frozenset[Feature] = frozenset(
    spec.feature for spec in FEATURES if spec.cosmetic
)

CONFIGURATION_FEATURES: dict[Action, Feature] = {
    spec.action: spec.feature for spec in FEATURES if spec.action is not None
}

# What the table says, compiled once for ``requested_features``, which runs on every create:
# each part of a request (the request, its flow, its configuration) read with one attrgetter,
# and each value compared with its field's default.
_PARTS: dict[str, type] = {"": PortalRequest, "flow": Flow, "configuration": PortalConfiguration}
_PER_PROVIDER = Feature.PROVIDER_OPTIONS
_WITH_PARTS = Feature.FLOW


@attrs.frozen
class _Part:
    values: Callable[[Any], Any]
    #: (feature, field, the field's default, whether that default is a tuple)
    rows: tuple[tuple[Feature, str, Any, bool], ...]


def _compile(part: str) -> _Part:
    defaults = {field.name: field.default for field in attrs.fields(_PARTS[part])}
    rows = []
    for spec in FEATURES:
        owner, _, name = spec.field.rpartition(".")
        if spec.in_request and spec.feature is not _PER_PROVIDER and owner == part:
            default = defaults[name]
            rows.append((spec.feature, spec.field, default, isinstance(default, tuple)))
    names = [field.rpartition(".")[2] for _, field, _, _ in rows]
    getter = operator.attrgetter(*names)
    return _Part(getter if len(names) > 1 else lambda obj: (getter(obj),), tuple(rows))


_REQUEST, _FLOW, _CONFIGURATION = (_compile(part) for part in _PARTS)


def requested_features(request: PortalRequest, provider_name: str) -> Iterator[tuple[Feature, str]]:
    """Each feature the request uses, with the request field that asks for it, in the
    table's order: a field that holds anything but its default asks for its feature."""
    yield from _asked(_REQUEST, request)
    if request.options_for(provider_name):
        yield _PER_PROVIDER, f"provider_options[{provider_name!r}]"
    if request.configuration is not None:
        yield from _asked(_CONFIGURATION, request.configuration)


def _asked(part: _Part, obj: object) -> Iterator[tuple[Feature, str]]:
    for value, (feature, field, default, is_tuple) in zip(part.values(obj), part.rows, strict=True):
        if value is default or (is_tuple and value == default):
            continue
        yield feature, field
        if feature is _WITH_PARTS:  # the flow's own parts follow it
            yield from _asked(_FLOW, value)


# What a dropped cosmetic field is set back to: its default.
_DEFAULT_OF = {
    feature: default for part in (_REQUEST, _FLOW) for feature, _, default, _ in part.rows
}


class Outcome(StrEnum):
    """What a request's feature gets from the provider that serves it (``Portal.preview``)."""

    #: The provider does it.
    HONOURED = "honoured"
    #: A cosmetic hint the provider cannot honour: cleared before sending and listed in
    #: ``PortalLink.ignored_fields``.
    DROPPED = "dropped"
    #: ``create_link`` raises ``UnsupportedFeature`` before anything is sent.
    REFUSED = "refused"


class Verdict(NamedTuple):
    """The feature policy's answer for one feature a request asks for."""

    feature: Feature
    #: The request field that asks for it (``provider_options['acme']`` for that entry).
    field: str
    outcome: Outcome
    #: Whether the provider declares the feature (False: it has none; True with an outcome
    #: other than HONOURED: its ``accepts`` said no for this request's value).
    declared: bool


def judge(provider: PortalProvider, request: PortalRequest, *, strict: bool) -> Iterator[Verdict]:
    """The policy's verdict on each feature the request asks for, in the table's order."""
    accepts = getattr(provider, "accepts", None)
    features = provider.features
    for feature, field in requested_features(request, provider.name):
        declared = feature in features
        if declared and (accepts is None or accepts(feature, request)):
            yield Verdict(feature, field, Outcome.HONOURED, declared)
        elif strict or feature not in COSMETIC_FEATURES:
            yield Verdict(feature, field, Outcome.REFUSED, declared)
        else:
            yield Verdict(feature, field, Outcome.DROPPED, declared)


def refusal(provider: PortalProvider, verdict: Verdict) -> UnsupportedFeature:
    """The error ``create_link`` raises for a refused feature."""
    feature, field = verdict.feature, verdict.field
    return UnsupportedFeature(
        f"{field}: {provider.name} does not support {feature.value}"
        + (
            ""
            if feature in COSMETIC_FEATURES
            else "; refusing rather than dropping it, because it changes what the customer may do"
        ),
        feature=feature.value,
        field=field,
        rule=f"unsupported by {provider.name}",
        provider=provider.name,
    )


def apply_feature_policy(
    provider: PortalProvider, request: PortalRequest, *, strict: bool
) -> tuple[PortalRequest, tuple[str, ...]]:
    """The request with unsupported cosmetic fields cleared, and the names of those fields.

    Raises ``UnsupportedFeature`` for anything else the provider cannot do, so adapters only
    ever see fields they support.
    """
    cleared: dict[str, Any] = {}
    cleared_in_flow: dict[str, Any] = {}
    ignored: list[str] = []
    for verdict in judge(provider, request, strict=strict):
        outcome = verdict.outcome
        if outcome is Outcome.HONOURED:
            continue
        if outcome is Outcome.REFUSED:
            raise refusal(provider, verdict)
        feature = verdict.feature
        name = SPECS[feature].field
        if name.startswith("flow."):
            if "flow" not in cleared:  # a dropped flow takes its parts with it
                cleared_in_flow[name.removeprefix("flow.")] = _DEFAULT_OF[feature]
                ignored.append(name)
            continue
        cleared[name] = _DEFAULT_OF[feature]
        ignored.append(name)
    if not ignored:
        return request, ()
    if cleared_in_flow and "flow" not in cleared and request.flow is not None:
        cleared["flow"] = attrs.evolve(request.flow, **cleared_in_flow)
    return attrs.evolve(request, **cleared), tuple(ignored)
