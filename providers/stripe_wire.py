"""What the Stripe adapter (providers/stripe.py) sends and reads back: the form body in
Stripe's bracket notation, as stripe-python encodes it, and the JSON shapes of Stripe's
answers (a session, a configuration, a page of configurations, the error envelope) with the
converter that reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import attrs

from portalkit._wire import LazyConverter, wire_converter

# -- the form body --------------------------------------------------------------------------


def _encode(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Stripe's bracket notation, as stripe-python's ``_api_encode`` writes it: nested
    objects as ``a[b]``, lists indexed (``a[0][id]``), booleans ``true``/``false``, None
    left out, an empty list left out (send ``""`` to clear a list)."""
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, str):  # most values: tested first, as the Mapping ABC is slow
            yield name, str(value)
        elif isinstance(value, dict | Mapping):
            yield from _encode(value, name)
        elif isinstance(value, list | tuple):
            yield from _encode({str(index): item for index, item in enumerate(value)}, name)
        elif isinstance(value, bool):
            yield name, "true" if value else "false"
        else:
            yield name, str(value)


def form_body(params: Mapping[str, Any]) -> bytes:
    """The urlencoded body, brackets left unescaped as stripe-python leaves them."""
    encoded = urlencode(list(_encode(params)))
    return encoded.replace("%5B", "[").replace("%5D", "]").encode("ascii")


# -- the answers' shapes --------------------------------------------------------------------


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class Session:
    id: str
    url: str
    customer: str
    created: int
    return_url: str | None = None
    flow: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class Configuration:
    id: str
    is_default: bool = False
    updated: int | None = None
    metadata: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class ConfigurationPage:
    data: list[dict[str, Any]]
    has_more: bool = False


@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    type: str | None = None
    code: str | None = None
    param: str | None = None
    message: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class ErrorEnvelope:
    error: _Error = _Error()


def _strict(kind: type) -> Any:
    def hook(value: object, _: type) -> Any:
        # cattrs' default calls int()/bool(): True would become 1, "false" True.
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, not {type(value).__name__}")
        return value

    return hook


def _make_converter() -> Any:
    built = wire_converter().converter
    built.register_structure_hook(int, _strict(int))
    built.register_structure_hook(bool, _strict(bool))
    return built


converter = LazyConverter(_make_converter)
