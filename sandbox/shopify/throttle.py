"""Shopify's leaky bucket, one per shop: ``maximumAvailable`` points that refill at ``restoreRate`` a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    def __init__(self, maximum: float, restore_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(maximum, restore_rate)

    def configure(self, maximum: float, restore_rate: float) -> None:
        with self._lock:
            self.maximum, self.restore_rate = float(maximum), float(restore_rate)
            self._available, self._at = self.maximum, self._clock()
            self.lowest = self.maximum

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        """Debit ``cost`` if the bucket holds it; False (nothing debited) means THROTTLED."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            self.lowest = min(self.lowest, self._available)
            return True

    def give_back(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(points, 0))

    def drain(self) -> None:
        with self._lock:
            self._available, self._at = 0.0, self._clock()

    def status(self) -> dict:
        with self._lock:
            self._refill()
            return {"maximumAvailable": self.maximum, "currentlyAvailable": round(self._available, 1),
                    "restoreRate": self.restore_rate}
