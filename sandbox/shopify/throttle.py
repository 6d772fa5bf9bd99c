"""Shopify's leaky bucket, one per shop: ``maximumAvailable`` points refilled at ``restoreRate`` per second
(monotonic clock, thread-safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# Shopify Plus is 20,000 points restoring 1,000/s; the twin's default is roomier (see README: "Differences").
DEFAULT_MAXIMUM_AVAILABLE, DEFAULT_RESTORE_RATE = 100_000.0, 50_000.0


class LeakyBucket:
    def __init__(self, maximum_available: float = DEFAULT_MAXIMUM_AVAILABLE,
                 restore_rate: float = DEFAULT_RESTORE_RATE, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(maximum_available, restore_rate)

    def configure(self, maximum_available: float, restore_rate: float) -> None:
        """Resize the bucket; it starts full."""
        if maximum_available <= 0 or restore_rate <= 0:
            raise ValueError("maximum_available and restore_rate must be positive")
        with self._lock:
            self.maximum, self.restore_rate = float(maximum_available), float(restore_rate)
            self._available, self._at = self.maximum, self._clock()
            self.lowest = self.maximum  # the lowest level reached since configured (tests check pacing)

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, points: float) -> bool:
        """Debit ``points`` if the bucket holds them; False (nothing debited) means THROTTLED."""
        with self._lock:
            self._refill()
            if points > self._available:
                return False
            self._available -= points
            self.lowest = min(self.lowest, self._available)
            return True

    def give_back(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(points, 0.0))

    def drain(self) -> dict[str, Any]:
        """Empty the bucket; returns the status at that instant (nothing available)."""
        with self._lock:
            self._available, self._at = 0.0, self._clock()
            self.lowest = 0.0
            return self._status()

    def status(self) -> dict[str, Any]:
        """``throttleStatus`` as Shopify reports it."""
        with self._lock:
            self._refill()
            return self._status()

    def _status(self) -> dict[str, Any]:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate}
