"""The public names are a promise: this test fails when one appears or disappears."""

import portalkit
from portalkit import errors


def test_exported_names_are_pinned() -> None:
    assert portalkit.__all__ == [
        "CONFIGURATION_FEATURES",
        "COSMETIC_FEATURES",
        "Action",
        "AfterCompletion",
        "AfterCompletionKind",
        "AsyncPortal",
        "AsyncPortalOptions",
        "BasicPair",
        "BillingEvent",
        "Claim",
        "CustomerIdKind",
        "DeepLink",
        "Delivery",
        "EventLog",
        "EventMapping",
        "EventType",
        "Exchange",
        "Feature",
        "FeatureOutcome",
        "Flow",
        "FlowDiscount",
        "FlowItem",
        "InMemoryEventLog",
        "MigrationRouter",
        "MultiStepProvider",
        "Outcome",
        "Portal",
        "PortalConfiguration",
        "PortalLink",
        "PortalOptions",
        "PortalProvider",
        "PortalRequest",
        "ProviderEnv",
        "RequestPreview",
        "RequestRouter",
        "RetentionOffer",
        "RetryPolicy",
        "Route",
        "SessionEndingProvider",
        "VendorWebhooks",
        "Webhooks",
        "__version__",
        "available_providers",
        "available_twins",
        "available_webhook_providers",
        "deadline_transport",
        "errors",
        "get_provider_factory",
        "get_vendor_webhooks",
        "provider_from_env",
        "verify_delivery",
    ]
    for name in portalkit.__all__:
        assert hasattr(portalkit, name), name


def test_error_tree() -> None:
    assert issubclass(errors.UnsupportedFeature, errors.InvalidRequest)
    assert issubclass(errors.InvalidResponse, errors.ProviderUnavailable)
    # Its own kind: not a CustomerNotFound (a router must not fall back on it), not retried.
    assert errors.AmbiguousCustomer.__bases__ == (errors.PortalError,)
    assert not errors.AmbiguousCustomer.retryable
    # An answer not in the vendor's shape (issue 24): its own kind too, never a
    # CustomerNotFound (no router fallback), not retried, not a ConfigurationError (a request
    # was sent; a proxy in between may be the cause).
    assert errors.UnexpectedEndpoint.__bases__ == (errors.PortalError,)
    assert not errors.UnexpectedEndpoint.retryable
    assert "UnexpectedEndpoint" in errors.__all__
    assert "UnexpectedEndpoint" in (errors.__doc__ or "")  # drawn in the tree
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.PortalError), name


def test_adapters_import_as_portalkit_providers() -> None:
    from portalkit.providers.chargebee import Chargebee
    from portalkit.providers.paddle import Paddle
    from portalkit.providers.paylera import Paylera
    from portalkit.providers.plugipay import Plugipay
    from portalkit.providers.polar import Polar

    names = {Chargebee.name, Paddle.name, Paylera.name, Plugipay.name, Polar.name}
    assert names == {"chargebee", "paddle", "paylera", "plugipay", "polar"}


def test_names_in_public_signatures_are_exported() -> None:
    # What Portal's and AsyncPortal's signatures mention, a user can import and look up.
    import inspect

    from portalkit import AsyncPortal, Portal

    for cls in (Portal, AsyncPortal):
        shown = str(inspect.signature(cls)) + str(inspect.signature(cls.from_env))
        for name in ("RequestRouter", "PortalProvider", "RetryPolicy"):
            assert name in shown, (cls, name)
            assert name in portalkit.__all__
    assert "PortalOptions" in str(inspect.signature(Portal.from_env))
    assert "AsyncPortalOptions" in str(inspect.signature(AsyncPortal.from_env))
    assert portalkit.PortalOptions.__doc__
    assert portalkit.RequestRouter.__doc__


def test_help_answers_what_a_user_asks() -> None:
    from portalkit import Portal, RetryPolicy

    portal_doc = Portal.__doc__ or ""
    for option in ("strict", "allowed_return_hosts", "max_response_bytes", "retry"):
        assert f"``{option}``" in portal_doc, option
    retry_doc = RetryPolicy.__doc__ or ""
    for field in ("max_attempts", "deadline", "backoff_initial", "backoff_max", "retry_after_cap"):
        assert f"``{field}``" in retry_doc, field
