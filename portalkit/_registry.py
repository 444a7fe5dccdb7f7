"""Providers by name: the ``portalkit.providers`` entry-point group, and building one from
environment variables.

portalkit registers its own adapters in that group (see pyproject.toml); a third-party
package registers its adapter the same way, and from then on ``provider_from_env``,
``Portal.from_env``, the CLI and ``MigrationRouter`` use it with no change to portalkit::

    [project.entry-points."portalkit.providers"]
    acme = "acme_portalkit:Acme"      # a class with a from_env(env: ProviderEnv) classmethod

The name registered is the one users write in ``PORTALKIT_PROVIDER`` and the prefix of the
provider's own variables (``ACME_API_KEY``, ``ACME_BASE_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Protocol, cast

from ._env import ProviderEnv, variable_prefix
from ._protocol import PortalProvider
from .errors import ConfigurationError, InvalidRequest

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

ENTRY_POINT_GROUP = "portalkit.providers"
#: The group a vendor's sandbox twin registers in, under its adapter's name
#: (``portalkit.sandbox.twin``).
SANDBOX_GROUP = "portalkit.sandbox"
#: The variable that names the provider ``Portal.from_env`` uses.
PROVIDER_VARIABLE = "PORTALKIT_PROVIDER"


class ProviderFactory(Protocol):
    """What a ``portalkit.providers`` entry point names: usually the adapter class itself,
    with a ``from_env`` classmethod."""

    def from_env(self, env: ProviderEnv) -> PortalProvider:
        """The provider, configured from ``env`` (its ``<NAME>_*`` variables). Raises
        ``ConfigurationError`` (``env.error``, ``env.require``) for a missing or bad one."""
        ...


def entry_points(*, group: str, name: str | None = None) -> EntryPoints:
    """``importlib.metadata.entry_points``, imported on first use: importing
    importlib.metadata costs every cold start milliseconds, and only a look-up by name needs
    it (an app that builds its adapter itself never does)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group) if name is None else installed(group=group, name=name)


def available_providers() -> list[str]:
    """The names of the installed providers, sorted: portalkit's own and any plug-ins."""
    return _names(entry_points(group=ENTRY_POINT_GROUP))


def _names(installed: EntryPoints) -> list[str]:
    return sorted({entry_point.name for entry_point in installed})


def available_twins() -> list[str]:
    """The names of the installed sandbox twins, sorted: the vendors the sandbox emulates,
    and the list the CLI, the pytest plugin, the example app and the test suite iterate
    over. Reads entry-point names only: nothing is imported."""
    return sorted({entry_point.name for entry_point in entry_points(group=SANDBOX_GROUP)})


def get_provider_factory(name: str) -> ProviderFactory:
    """The factory registered as ``name``. Raises ``ConfigurationError`` when no installed
    package registers that name, two register it differently, or it cannot be imported."""
    return _load_factory(name, entry_points(group=ENTRY_POINT_GROUP))


def _load_factory(name: str, installed: EntryPoints) -> ProviderFactory:
    """``get_provider_factory`` over the group's entry points as one scan found them: reading
    entry points opens every installed distribution's metadata (about 0.05 ms each), so a
    caller that already read the group passes it rather than reading it again."""
    factory = load_entry_point(name, installed, kind="provider")
    if not callable(getattr(factory, "from_env", None)):
        raise ConfigurationError(
            f"provider {name!r} has no from_env(env) method, so it cannot"
            " be configured from environment variables",
            provider=name,
        )
    return cast(ProviderFactory, factory)


def load_entry_point(name: str, installed: EntryPoints, *, kind: str) -> object:
    """The object registered as ``name`` among ``installed`` (one group's entry points).
    ``ConfigurationError`` when no installed package registers it, two register it
    differently, or it cannot be imported; ``kind`` names the group in the message."""
    try:
        variable_prefix(name)  # refuses a name that cannot prefix environment variables
    except ConfigurationError as exc:
        hint = did_you_mean(name, _names(installed))
        if not hint:
            raise
        raise ConfigurationError(f"{exc.message}{hint}", provider=name) from None
    found = {ep.value: ep for ep in installed if ep.name == name}
    if not found:
        names = _names(installed)
        raise ConfigurationError(
            f"no {kind} named {name!r} is installed"
            f" (installed: {', '.join(names) or 'none'}){did_you_mean(name, names)}",
            provider=name,
        )
    if len(found) > 1:
        raise ConfigurationError(
            f"{kind} {name!r} is registered differently by more than one installed package:"
            f" {', '.join(sorted(found))}",
            provider=name,
        )
    (entry_point,) = found.values()
    try:
        return entry_point.load()
    except Exception as exc:  # a broken plug-in must not look like a missing one
        raise ConfigurationError(
            f"{kind} {name!r} ({entry_point.value}) failed to import: {type(exc).__name__}",
            provider=name,
        ) from exc


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``"; did you mean 'paddle'?"`` when ``name`` (normalized) is close to one of
    ``names`` and is not one of them, else ``""``: the one typo hint wherever a vendor's name
    is read (``PORTALKIT_PROVIDER``, ``--provider``, ``load_entry_point``,
    ``Sandbox.twin``). It shows only the registered name, never ``name``: appended to a
    message about ``PORTALKIT_PROVIDER``, whose value may be a secret pasted into the wrong
    variable, it says nothing of that value. A value far from every name (a key, a token) gets
    no hint at all, so a hint never echoes a secret's likeness either."""
    candidate = normalize_provider_name(name)
    choices = sorted(set(names))
    if not candidate or name in choices:
        return ""
    if candidate in choices:  # "Paddle" where the name is read as written
        return f"; did you mean {candidate!r}?"
    import difflib  # only on the way to an error: not worth every cold start

    close = difflib.get_close_matches(candidate, choices, n=1, cutoff=_CLOSE_ENOUGH)
    # Separators and case are typos too: "lemon-squeezy", "Lemon Squeezy".
    if not close:
        squashed = {_squash(choice): choice for choice in choices}
        if _squash(candidate) in squashed:
            close = [squashed[_squash(candidate)]]
    return f"; did you mean {close[0]!r}?" if close else ""


#: difflib's ratio a value must reach to be taken for a typo of a registered name ("padle"
#: against "paddle" is 0.91, "stirpe" against "stripe" 0.83, a 40-character key against any
#: name under 0.3).
_CLOSE_ENOUGH = 0.75


def _squash(name: str) -> str:
    return "".join(char for char in name if char.isalnum())


def provider_from_env(
    environ: Mapping[str, str] | None = None, *, name: str | None = None
) -> PortalProvider:
    """The provider named by ``name``, else by ``PORTALKIT_PROVIDER``, configured from its
    own variables in ``environ`` (default ``os.environ``). Either name is read with one rule
    (``normalize_provider_name``): ``" Paddle\n"`` is ``paddle``.

    Raises ``ConfigurationError`` naming the variable that is missing or malformed; the
    message never shows a variable's value.
    """
    environ = os.environ if environ is None else environ
    # One read of the group serves both the check of PORTALKIT_PROVIDER's value and the
    # load; it is not kept past this call, so a package installed since is seen next time.
    installed = entry_points(group=ENTRY_POINT_GROUP)
    name = _resolved_name(environ, name, installed)
    factory = _load_factory(name, installed)
    env = ProviderEnv(name, environ)
    try:
        provider = factory.from_env(env)
    except ConfigurationError:
        raise
    except InvalidRequest as exc:
        # The adapter refused a value (a base URL over plain http, a malformed account id).
        # Its fields are named like their variables, so name the variable -- when it read
        # one of that name: a field no variable holds is named as the field. ``from None``
        # keeps the traceback to a message written here, which shows no value.
        if exc.field is None or exc.rule is None or not env.was_read(exc.field):
            raise ConfigurationError(
                f"{name} could not be configured from the environment: {exc.message}",
                provider=name,
            ) from None
        raise env.error(exc.field, exc.rule) from None
    if not isinstance(provider, PortalProvider):
        raise ConfigurationError(
            f"provider {name!r}: from_env returned a {type(provider).__name__}, which is not a"
            " PortalProvider",
            provider=name,
        )
    return provider


def normalize_provider_name(name: str) -> str:
    """The one case rule for a provider's name, wherever a user writes it
    (``PORTALKIT_PROVIDER``, ``provider_from_env(name=...)``, ``portalkit link --provider``):
    surrounding whitespace dropped (``$(cat file)`` keeps a newline), lowercase."""
    return name.strip().lower()


def provider_name(environ: Mapping[str, str], name: str | None = None) -> str:
    """``name`` when given, else ``PORTALKIT_PROVIDER``'s value, normalized; raises
    ``ConfigurationError`` when the variable is needed and unset or names no installed
    provider."""
    return _resolved_name(environ, name, None)


def _resolved_name(
    environ: Mapping[str, str], name: str | None, installed: EntryPoints | None
) -> str:
    """``name``, or PORTALKIT_PROVIDER's value checked against the group (read here unless
    the caller already read it)."""
    if name is not None:
        return normalize_provider_name(name)
    if installed is None:
        installed = entry_points(group=ENTRY_POINT_GROUP)
    return _provider_name(environ, installed)


def _provider_name(environ: Mapping[str, str], registered: EntryPoints) -> str:
    return provider_name_in(environ, _names(registered))


def provider_name_in(environ: Mapping[str, str], names: list[str]) -> str:
    """``PORTALKIT_PROVIDER``'s value, normalized, which must be one of ``names``."""
    installed = ", ".join(names) or "none installed"
    value = normalize_provider_name(environ.get(PROVIDER_VARIABLE, ""))
    if not value:
        raise ConfigurationError(
            f"{PROVIDER_VARIABLE} is not set: set it to the provider to use ({installed})",
            variable=PROVIDER_VARIABLE,
        )
    if value not in names:
        # Its value is not shown: a secret pasted into the wrong variable would be.
        # The hint shows only the registered name it is close to (did_you_mean).
        raise ConfigurationError(
            f"{PROVIDER_VARIABLE} names no installed provider (installed: {installed})"
            f"{did_you_mean(value, names)}",
            variable=PROVIDER_VARIABLE,
        )
    return value
