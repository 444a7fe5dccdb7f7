"""The registered twins: the ``portalkit.sandbox`` entry-point group, loaded."""

from __future__ import annotations

from .._registry import SANDBOX_GROUP, available_twins, entry_points
from ..errors import ConfigurationError
from .twin import Twin


def load_twins() -> tuple[Twin, ...]:
    """Every installed twin, in ``available_twins()`` order. An entry point names a ``Twin``
    or a function returning one. ConfigurationError for a name registered differently by
    two packages, one that fails to import, or one that is not a Twin of that name: a
    broken plug-in must not look like a missing one."""
    twins = []
    for name in available_twins():
        found = {ep.value: ep for ep in entry_points(group=SANDBOX_GROUP, name=name)}
        if len(found) > 1:
            raise ConfigurationError(
                f"sandbox twin {name!r} is registered differently by more than one installed"
                f" package: {', '.join(sorted(found))}",
                provider=name,
            )
        (entry_point,) = found.values()
        try:
            loaded = entry_point.load()
            twin = loaded if isinstance(loaded, Twin) else loaded()
        except Exception as exc:
            raise ConfigurationError(
                f"sandbox twin {name!r} ({entry_point.value}) failed to load: {type(exc).__name__}",
                provider=name,
            ) from exc
        if not isinstance(twin, Twin) or twin.name != name:
            raise ConfigurationError(
                f"sandbox twin {name!r} ({entry_point.value}) is not a Twin named {name!r}",
                provider=name,
            )
        twins.append(twin)
    return tuple(twins)
