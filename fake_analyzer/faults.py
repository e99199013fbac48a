"""Injected failures: what a fault is and how one is read from the control API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .responses import ControlError

# refuse/reset drop the connection; hang never answers; slow answers (and stores) after
# delay_ms; 500/502/503/504/html/broken_json/success_false are canned answers that store
# nothing; trickle stores, sends the real headers, then the body one byte per delay_ms;
# flood stores, then answers 200 JSON of body_bytes, or without end when that is unset.
FLOOD_PREFIX = b'{"success": true, "message": "Marks updated successfully", "padding": "'

FAULT_KINDS = (
    "refuse",
    "hang",
    "slow",
    "500",
    "502",
    "503",
    "504",
    "html",
    "broken_json",
    "success_false",
    "reset",
    "trickle",
    "flood",
)

# --- faults ------------------------------------------------------------------------------


def _number(value: Any, name: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"fault {name} must be a number")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ControlError(f"fault {name} must be {bound}")
    return float(value)


@dataclass
class Fault:
    """One injected failure; see the control API's POST /faults."""

    kind: str
    fraction: float = 1.0
    retry_after: float | None = 1.0
    delay_ms: float = 1000.0
    paths: tuple[str, ...] = ()
    count: int | None = None
    #: "flood" only: the body's size; None sends one without end.
    body_bytes: int | None = None
    fired: int = 0

    FIELDS = frozenset(
        {"kind", "fraction", "retry_after", "delay_ms", "paths", "count", "body_bytes"}
    )

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise ControlError("each fault must be an object")
        unknown = set(data) - cls.FIELDS
        if unknown:
            raise ControlError(f"unknown fault keys: {sorted(unknown)}")
        kind = data.get("kind")
        kind = str(kind) if isinstance(kind, int) and not isinstance(kind, bool) else kind
        if kind not in FAULT_KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; expected one of {list(FAULT_KINDS)}")
        fault = cls(kind=kind)
        fault.fraction = _number(data.get("fraction", 1), "fraction", 0, 1)
        if "retry_after" in data:
            # An explicit null means "send no Retry-After header at all".
            raw = data["retry_after"]
            fault.retry_after = None if raw is None else _number(raw, "retry_after", 0)
        fault.delay_ms = _number(data.get("delay_ms", 1000), "delay_ms", 0, 600_000)
        paths = data.get("paths")
        if paths is not None:
            if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
                raise ControlError("fault paths must be a list of non-empty strings")
            fault.paths = tuple(p.strip("/") for p in paths)
        count = data.get("count")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ControlError("fault count must be a non-negative integer")
            fault.count = count
        body_bytes = data.get("body_bytes")
        if body_bytes is not None:
            if (
                isinstance(body_bytes, bool)
                or not isinstance(body_bytes, int)
                or not len(FLOOD_PREFIX) + 2 <= body_bytes <= 1 << 40
            ):
                raise ControlError(
                    f"fault body_bytes must be an integer from {len(FLOOD_PREFIX) + 2} to 2**40"
                )
            fault.body_bytes = body_bytes
        return fault

    def matches(self, path: str) -> bool:
        if not self.paths:
            return True
        normalized = "/" + path.strip("/")
        return any(normalized.endswith("/" + p) for p in self.paths)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    @property
    def refuses_everything(self) -> bool:
        """Whether this fault closes the listening socket instead of resetting connections."""
        return (
            self.kind == "refuse" and self.fraction >= 1 and not self.paths and self.count is None
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fraction": self.fraction,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "paths": list(self.paths) or None,
            "count": self.count,
            "body_bytes": self.body_bytes,
            "fired": self.fired,
        }
