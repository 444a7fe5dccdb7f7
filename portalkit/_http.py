"""The HTTP stack portalkit runs on: httpx2 (httpx's maintained continuation) when it is
installed, else httpx 0.28. Every portalkit module imports the stack from here, never
``httpx`` or ``httpx2`` directly, so one place decides; nothing is aliased process-wide.

    from portalkit._http import httpx      # the module: httpx2, or httpx
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type-checked against httpx2, the stack portalkit depends on
    import httpx2 as httpx
else:
    try:
        import httpx2 as httpx
    except ModuleNotFoundError:  # an environment that has only httpx
        import httpx

__all__ = ["httpx"]
