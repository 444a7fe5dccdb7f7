"""ProviderEnv: one provider's settings, read from environment variables.

The core knows no vendor: it hands each adapter's ``from_env`` a ``ProviderEnv`` whose
variables are named ``<PROVIDER>_<FIELD>`` (``PADDLE_API_KEY`` for the field ``api_key`` of
the provider registered as ``paddle``), and the adapter asks for the fields it needs. Every
failure is a ``ConfigurationError`` that names the variable and never shows its value: the
value may be a secret.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import overload

from .errors import ConfigurationError

_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]*")
# Whitespace or control characters inside a value: a pasted secret with a line break in it,
# or two values run together. Never valid in a key, an id or a URL.
_BAD_CHARACTER = re.compile(r"[\s\x00-\x1f\x7f]")


def variable_prefix(provider: str) -> str:
    """``PADDLE`` for ``paddle``; ``MY_VENDOR`` for ``my-vendor``."""
    if not _PROVIDER_NAME.fullmatch(provider):
        raise ConfigurationError(
            f"provider name {provider!r} must be lowercase letters, digits, '_' or '-',"
            " starting with a letter"
        )
    return provider.upper().replace("-", "_")


class ProviderEnv:
    """The environment variables of one provider, as its adapter's ``from_env`` sees them.

    Values are stripped of surrounding whitespace, and an empty value counts as unset, so a
    trailing newline from ``$(cat key.txt)`` or ``FOO=`` in a ``.env`` file behaves as
    expected.
    """

    def __init__(self, provider: str, environ: Mapping[str, str]) -> None:
        self.provider = provider
        self.prefix = variable_prefix(provider)
        self._environ = environ
        #: The fields asked for so far, in order (``was_read``).
        self._read: dict[str, None] = {}

    def variable(self, field: str) -> str:
        """The variable that holds ``field``: ``PADDLE_API_KEY`` for ``api_key``."""
        return f"{self.prefix}_{field.upper()}"

    @overload
    def get(self, field: str) -> str | None: ...
    @overload
    def get(self, field: str, default: str) -> str: ...
    def get(self, field: str, default: str | None = None) -> str | None:
        """The value of ``field``'s variable, or ``default`` when it is unset or empty."""
        variable = self.variable(field)
        self._read[field] = None
        value = self._environ.get(variable, "").strip()
        if not value:
            return default
        if _BAD_CHARACTER.search(value):
            raise self.error(field, "must not contain whitespace or control characters")
        return value

    def require(self, field: str) -> str:
        """The value of ``field``'s variable; a ``ConfigurationError`` naming it when unset."""
        value = self.get(field)
        if value is None:
            raise self.error(field, f"is not set (required for {self.provider})")
        return value

    def choice(self, field: str, choices: Collection[str], default: str) -> str:
        """The value of ``field``'s variable, which must be one of ``choices`` (any case)."""
        value = self.get(field)
        if value is None:
            return default
        if value.lower() not in choices:
            raise self.error(field, f"must be one of: {', '.join(sorted(choices))}")
        return value.lower()

    def was_read(self, field: str) -> bool:
        """Whether the adapter asked for ``field``: an adapter's own setting that it did not
        read from a variable (``stripe_version`` is read from ``STRIPE_API_VERSION``) has no
        variable of that name to blame."""
        return field in self._read

    def error(self, field: str, rule: str) -> ConfigurationError:
        """The error for a bad ``field``: names the variable, never shows its value."""
        variable = self.variable(field)
        return ConfigurationError(f"{variable} {rule}", variable=variable, provider=self.provider)

    def __repr__(self) -> str:
        return f"ProviderEnv({self.provider!r})"
