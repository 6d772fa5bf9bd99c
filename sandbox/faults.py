"""Injectable faults, per shop: the next ``count`` API requests after skipping ``after`` of them misbehave.

Kinds: ``http_500`` / ``http_503`` (with Retry-After), ``timeout`` (answer only after ``delay_s``),
``hang`` (hold the request until faults are cleared or ``delay_s`` passes), ``throttle`` (a THROTTLED
answer with an empty bucket).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

KINDS = ("http_500", "http_503", "timeout", "hang", "throttle")


@dataclass
class Fault:
    kind: str
    count: int = 1
    after: int = 0
    delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")


@dataclass
class FaultBook:
    """Pending faults and counters of one shop."""

    pending: list[Fault] = field(default_factory=list)
    requests: int = 0
    fired: int = 0
    throttled: int = 0
    in_flight_hangs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            self.pending.clear()

    def next_request(self) -> Fault | None:
        """Count a request and return the fault it must suffer, if any (each pending fault counts on its own)."""
        with self._lock:
            self.requests += 1
            hit = None
            for fault in self.pending:
                if fault.after > 0:
                    fault.after -= 1
                elif hit is None and fault.count > 0:
                    fault.count -= 1
                    hit = fault
            self.pending = [f for f in self.pending if f.count > 0]
            if hit is not None:
                self.fired += 1
            return hit
