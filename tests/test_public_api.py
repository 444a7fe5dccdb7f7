"""The public names are a promise: this test fails when one appears or disappears."""

import portalkit
from portalkit import errors


def test_exported_names_are_pinned() -> None:
    assert portalkit.__all__ == [
        "CONFIGURATION_FEATURES",
        "COSMETIC_FEATURES",
        "Action",
        "AsyncPortal",
        "DeepLink",
        "Feature",
        "Flow",
        "MigrationRouter",
        "Portal",
        "PortalConfiguration",
        "PortalLink",
        "PortalProvider",
        "PortalRequest",
        "ProviderEnv",
        "RetryPolicy",
        "Route",
        "__version__",
        "available_providers",
        "deadline_transport",
        "errors",
        "get_provider_factory",
        "provider_from_env",
    ]
    for name in portalkit.__all__:
        assert hasattr(portalkit, name), name


def test_error_tree() -> None:
    assert issubclass(errors.UnsupportedFeature, errors.InvalidRequest)
    assert issubclass(errors.InvalidResponse, errors.ProviderUnavailable)
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.PortalError), name


def test_adapters_import_as_portalkit_providers() -> None:
    from portalkit.providers.paddle import Paddle
    from portalkit.providers.paylera import Paylera
    from portalkit.providers.plugipay import Plugipay

    assert {Paddle.name, Paylera.name, Plugipay.name} == {"paddle", "paylera", "plugipay"}
