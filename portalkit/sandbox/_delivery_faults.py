"""DeliveryFault: one scripted misbehaviour of the sandbox's webhook deliveries.

The other direction from ``Fault`` (which disturbs a request *to* a twin): a DeliveryFault
disturbs what a twin sends *to* the app's webhook endpoint, the ways real vendors do on their
bad days. ``Sandbox.script_deliveries(vendor, *faults)`` queues them; each of the next events
the vendor sends takes one, in order (``out_of_order`` takes two events). They also travel as
JSON, for ``POST /_sandbox/{vendor}/webhooks/faults``.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import attrs

DeliveryFaultKind = Literal["duplicate", "out_of_order", "late", "bad_signature"]
KINDS: tuple[str, ...] = DeliveryFaultKind.__args__  # type: ignore[attr-defined]

#: What ``late()`` backdates by default: an hour, past every vendor's replay window (Stripe's
#: is 300 s, Paddle's 5 s).
LATE_BY = 3600.0
#: What a bad signature is signed with instead of the twin's secret: the secret plus this.
WRONG_SECRET_SUFFIX = "-wrong"  # noqa: S105 -- a suffix, not a secret


def _check_seconds(
    instance: DeliveryFault, attribute: attrs.Attribute[float], value: float
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"DeliveryFault: seconds must be a finite number, not {value!r}")
    if value < 0:
        raise ValueError("DeliveryFault: seconds must not be negative")


@attrs.frozen
class DeliveryFault:
    """One scripted delivery fault. Build with the class methods:
    ``DeliveryFault.duplicate()``, ``DeliveryFault.out_of_order()``,
    ``DeliveryFault.late(seconds=3600)``, ``DeliveryFault.bad_signature()``."""

    kind: DeliveryFaultKind
    seconds: float = attrs.field(default=0.0, validator=_check_seconds)

    @classmethod
    def duplicate(cls) -> DeliveryFault:
        """The next event is delivered twice: the same body, the same delivery id, one
        after the other (at least once, as every vendor warns)."""
        return cls("duplicate")

    @classmethod
    def out_of_order(cls) -> DeliveryFault:
        """The next two events are sent in swapped order: the first is held back until the
        second (from the same change, or the next one) has been sent."""
        return cls("out_of_order")

    @classmethod
    def late(cls, seconds: float = LATE_BY) -> DeliveryFault:
        """The next event is signed with a timestamp ``seconds`` old, at every attempt, as a
        delivery replayed long after it was signed looks (a vendor without a signed
        timestamp sends it as usual)."""
        return cls("late", seconds=float(seconds))

    @classmethod
    def bad_signature(cls) -> DeliveryFault:
        """The next event is signed with a wrong secret (the twin's plus ``-wrong``), at
        every attempt, as a forged delivery looks."""
        return cls("bad_signature")

    def to_json(self) -> dict[str, Any]:
        """The JSON form accepted by ``POST /_sandbox/{vendor}/webhooks/faults``."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "late":
            data["seconds"] = self.seconds
        return data

    @classmethod
    def from_json(cls, data: object) -> DeliveryFault:
        """A DeliveryFault from its JSON form; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a delivery fault must be a JSON object with a 'kind'")
        kind = data.get("kind")
        if kind not in KINDS:
            raise ValueError(
                f"unknown delivery fault kind {kind!r}; expected one of {', '.join(KINDS)}"
            )
        if kind == "late":
            seconds = data.get("seconds", LATE_BY)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ValueError("delivery fault 'late': 'seconds' must be a number")
            return cls.late(seconds)
        return cls(kind)

    def describe(self) -> str:
        """A short human description, for error messages and the control endpoints."""
        return json.dumps(self.to_json(), separators=(",", ":"))
