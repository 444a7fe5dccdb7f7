"""``Portal.preview``: what ``create_link`` would do with a request, without sending anything.

An app that shows "Cancel subscription" asks first whether the vendor's portal can open at
that action. The answer is not a second copy of the rules: the preview runs the part of a
create that comes before the first byte is sent -- the same ``Call`` ``create_link`` builds
(the return-host check, the feature policy of ``_capabilities``, the unknown
``provider_options`` names, the adapter's own checks as it builds its first request) -- and
reads the feature policy's verdicts (``_capabilities.judge``, the function the policy itself
acts on) for the per-feature outcomes. Then it stops: the exchange is closed unsent.
"""

from __future__ import annotations

import attrs

from ._call import Call, Settings
from ._capabilities import COSMETIC_FEATURES, Outcome, Verdict, judge
from ._features import SPECS
from ._models import Feature, Flow, PortalRequest
from ._protocol import PortalProvider
from ._router import Dispatch, MigrationRouter, RequestRouter
from .errors import UnsupportedFeature


@attrs.frozen
class FeatureOutcome:
    """What one feature a request asks for gets from the provider that would serve it."""

    feature: Feature
    #: The request field that asks for it (``flow``, ``configuration.cancel_subscription``,
    #: ``provider_options['acme']``).
    field: str
    outcome: Outcome
    #: Why, in portalkit's words (never the vendor's): "acme has no per-session
    #: configuration of cancelling: refused rather than dropped, ...".
    reason: str


@attrs.frozen
class RequestPreview:
    """What ``create_link(request)`` would do, found without sending anything
    (``Portal.preview``).

    ``features`` lists each feature the request asks for, in the order the policy checks
    them, with its outcome and why. ``refusal`` is the ``UnsupportedFeature`` that
    ``create_link`` would raise before sending (None: it would send the request);
    ``ignored_fields`` is what the link's ``ignored_fields`` would then be. A request that
    is refused sends nothing, so nothing of it is dropped: ``ignored_fields`` is empty.

    Known before sending is not known for sure: the vendor may still answer with an error
    (an unknown customer, a subscription that is not the customer's, an outage).
    """

    #: The name of the provider that would serve the request (with a router, the routed one).
    provider: str
    features: tuple[FeatureOutcome, ...] = ()
    ignored_fields: tuple[str, ...] = ()
    refusal: UnsupportedFeature | None = attrs.field(default=None, eq=False)
    #: With a ``MigrationRouter`` made with ``fallback=True``: what the route's fallback
    #: provider would do, were the first to answer ``CustomerNotFound``.
    fallback: RequestPreview | None = None

    @property
    def would_send(self) -> bool:
        """``create_link`` would send the request (nothing is refused before sending)."""
        return self.refusal is None

    def outcome(self, feature: Feature) -> Outcome | None:
        """The outcome of ``feature``; None when the request does not ask for it."""
        found = [entry.outcome for entry in self.features if entry.feature is feature]
        if not found:
            return None
        for worst in (Outcome.REFUSED, Outcome.DROPPED):  # several provider_options entries
            if worst in found:
                return worst
        return Outcome.HONOURED

    def honours(self, feature: Feature) -> bool:
        """The request asks for ``feature``, and ``create_link`` would send it honoured:
        e.g. ``preview.honours(Feature.FLOW)`` -- the portal opens at the flow's action."""
        return self.would_send and self.outcome(feature) is Outcome.HONOURED

    @property
    def dropped(self) -> tuple[FeatureOutcome, ...]:
        """The features that would be dropped (``create_link`` would still send)."""
        return tuple(entry for entry in self.features if entry.outcome is Outcome.DROPPED)

    @property
    def refused(self) -> tuple[FeatureOutcome, ...]:
        """The features that make ``create_link`` refuse the request before sending."""
        return tuple(entry for entry in self.features if entry.outcome is Outcome.REFUSED)


def preview(
    target: PortalProvider | RequestRouter, settings: Settings, request: PortalRequest
) -> RequestPreview:
    """What ``create_link(request)`` would do on a Portal of ``target`` with ``settings``."""
    return _preview_step(_dispatch(target, request), settings)


def _dispatch(target: PortalProvider | RequestRouter, request: PortalRequest) -> Dispatch:
    """The step ``create_link`` would take first (and its fallback), found without I/O: a
    router's ``route`` function is called, as ``create_link`` calls it, but never awaited."""
    if not isinstance(target, RequestRouter):
        return Dispatch(target, request)
    if not isinstance(target, MigrationRouter):
        return target.dispatch(request)
    return target.dispatch(
        request,
        when_async="preview cannot await it: make it a plain function, or preview through a"
        " Portal of the provider it picks (router.providers[name])",
    )


def _preview_step(step: Dispatch, settings: Settings) -> RequestPreview:
    provider, request = step.provider, step.request
    # Everything create_link does before it sends: an InvalidRequest (bad input, a return
    # host not allowed, an id the vendor cannot take) is raised here as create_link raises
    # it; an UnsupportedFeature is the answer.
    refused: UnsupportedFeature | None = None
    ignored: tuple[str, ...] = ()
    try:
        call = Call(provider, settings, request)
    except UnsupportedFeature as error:
        refused = error
    else:
        call.discard()
        ignored = call.ignored
    verdicts = list(judge(provider, request, strict=settings.strict))
    features = _outcomes(provider.name, request, verdicts, refused, settings.strict)
    # provider_options entries naming no installed provider: listed, not a feature's verdict.
    features += tuple(
        FeatureOutcome(
            Feature.PROVIDER_OPTIONS,
            name,
            Outcome.DROPPED,
            "names no installed provider (a typo?): dropped and listed in ignored_fields",
        )
        for name in ignored
        if name.startswith("provider_options[")
    )
    fallback = None if step.fallback is None else _preview_step(step.fallback, settings)
    return RequestPreview(provider.name, features, ignored, refused, fallback)


def _outcomes(
    name: str,
    request: PortalRequest,
    verdicts: list[Verdict],
    refused: UnsupportedFeature | None,
    strict: bool,
) -> tuple[FeatureOutcome, ...]:
    flow_dropped = any(v.feature is Feature.FLOW and v.outcome is Outcome.DROPPED for v in verdicts)
    by_adapter = refused is not None and all(v.outcome is not Outcome.REFUSED for v in verdicts)
    found = []
    for verdict in verdicts:
        outcome, reason = verdict.outcome, _reason(name, verdict, request, strict)
        if by_adapter and refused is not None and verdict.feature.value == refused.feature:
            # The policy let it through; the adapter, building its request, did not.
            outcome, reason = Outcome.REFUSED, _adapter_reason(refused)
            by_adapter = False
        elif (
            flow_dropped
            and outcome is not Outcome.REFUSED
            and SPECS[verdict.feature].field.startswith("flow.")
        ):
            outcome, reason = Outcome.DROPPED, "dropped with the flow it belongs to"
        found.append(FeatureOutcome(verdict.feature, verdict.field, outcome, reason))
    if by_adapter and refused is not None and refused.feature in _FEATURE_VALUES:
        # A feature the adapter refused that the request asks for in no field of the table
        # (a plug-in's own rule): listed too. Its ``refusal`` says it either way.
        found.append(
            FeatureOutcome(
                Feature(refused.feature),
                refused.field or refused.feature,
                Outcome.REFUSED,
                _adapter_reason(refused),
            )
        )
    return tuple(found)


_FEATURE_VALUES = frozenset(feature.value for feature in Feature)


def _reason(name: str, verdict: Verdict, request: PortalRequest, strict: bool) -> str:
    spec = SPECS[verdict.feature]
    flow = request.flow if verdict.feature is Feature.FLOW else None
    if verdict.outcome is Outcome.HONOURED:
        if flow is not None:
            return f"{name} opens its portal at {_target(flow)}"
        return f"{name} has {spec.noun}"
    if not verdict.declared:
        what = f"{name} has no {spec.noun}"
    elif flow is not None:
        what = f"{name} cannot open its portal at {_target(flow)}"
    else:
        what = f"{name} cannot take this {verdict.field}"
    if verdict.outcome is Outcome.DROPPED:
        if flow is not None:
            return f"{what}: dropped (it opens its portal home) and listed in ignored_fields"
        return f"{what}: a cosmetic hint, dropped and listed in ignored_fields"
    if strict and verdict.feature in COSMETIC_FEATURES:
        return f"{what}: refused because strict=True (dropped otherwise)"
    return f"{what}: refused rather than dropped, because it changes what the customer may do"


def _target(flow: Flow) -> str:
    target = f"{flow.action.value!r}"
    return f"{target} for subscription {flow.subscription_id!r}" if flow.subscription_id else target


def _adapter_reason(error: UnsupportedFeature) -> str:
    """The adapter's refusal, in its (portalkit's) words, without the field it starts with."""
    prefix = f"{error.field}: "
    message = error.message
    return message.removeprefix(prefix) if error.field else message
