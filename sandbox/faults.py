"""Injectable faults, per API and shop: the next ``count`` requests after skipping ``after`` of them misbehave.

Kinds: ``http_500`` / ``http_503`` (with Retry-After), ``http_429`` (Too Many Requests, Retry-After: 1),
``timeout`` (the answer comes only after ``delay_s``, so a client with a shorter timeout gives up), ``hang``
(the request is held until faults are cleared or ``delay_s`` passes), ``throttle`` (the API's own throttled
answer: Shopify's THROTTLED with the bucket emptied, a REST twin's 429 with its rate-limit headers),
``expire_token`` (every access token issued so far for the shop expires, so this request is refused as
expired and the client must refresh mid-run).

Books are keyed by ``(api, shop)``; ``api`` is the twin's name (``shopify``, ``amazon``, ``walmart``, …). A
twin that no shop owns (``fx_rates``: one public service for all) keeps its one book under shop ``ANY_SHOP``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KINDS = ("http_500", "http_503", "http_429", "timeout", "hang", "throttle", "expire_token")
DEFAULT_API = "shopify"
ANY_SHOP = "*"  # the book of an API that serves every shop alike, with no shop in its URLs (FX reference rates)


@dataclass
class Fault:
    kind: str
    count: int = 1
    after: int = 0
    delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.count < 1 or self.after < 0 or self.delay_s < 0:
            raise ValueError("count must be ≥ 1, after and delay_s ≥ 0")


@dataclass
class FaultBook:
    """One API's pending faults and request counters for one shop."""

    pending: list[Fault] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    in_flight_hangs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_request(self) -> Fault | None:
        """Count a request and return the fault it suffers, if any. Every pending fault counts the request
        towards its ``after``; the first one due fires."""
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            hit = None
            for fault in self.pending:
                if fault.after > 0:
                    fault.after -= 1
                elif hit is None:
                    fault.count -= 1
                    hit = fault
            self.pending = [f for f in self.pending if f.count > 0]
            if hit is not None:
                self.fired[hit.kind] += 1
            return hit

    def done(self, *, throttled: bool) -> None:
        with self.lock:
            self.in_flight -= 1
            self.throttled += throttled

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": self.requests, "throttled": self.throttled, "faults_fired": sum(self.fired.values()),
                    "faults_fired_by_kind": dict(self.fired), "in_flight": self.in_flight,
                    "in_flight_hangs": self.in_flight_hangs}


class Faults:
    """The fault books of every (API, shop), and the gate hanging requests wait at.

    ``books`` maps a shop to its Shopify book (what the Shopify twin and its tests use); ``book(shop, api)``
    gives any API's book, created on first use for a shop of the world."""

    def __init__(self, handles: list[str]) -> None:
        self.handles = list(handles)
        self._books: dict[tuple[str, str], FaultBook] = {(DEFAULT_API, h): FaultBook() for h in handles}
        self._lock = threading.Lock()
        self._cleared = threading.Condition()
        self._generation = 0  # bumped by every clear: hanging requests from before it return

    @property
    def books(self) -> dict[str, FaultBook]:
        return {h: self.book(h) for h in self.handles}

    def book(self, handle: str, api: str = DEFAULT_API) -> FaultBook:
        if handle not in self.handles and handle != ANY_SHOP:
            raise KeyError(f"unknown shop {handle!r}")
        with self._lock:
            return self._books.setdefault((api, handle), FaultBook())

    def by_api(self) -> dict[str, dict[str, FaultBook]]:
        with self._lock:
            grouped: dict[str, dict[str, FaultBook]] = {}
            for (api, handle), book in self._books.items():
                grouped.setdefault(api, {})[handle] = book
            return grouped

    def add(self, handle: str, fault: Fault, api: str = DEFAULT_API) -> None:
        book = self.book(handle, api)
        with book.lock:
            book.pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            books = list(self._books.values())
        for book in books:
            with book.lock:
                book.pending.clear()
        with self._cleared:
            self._generation += 1
            self._cleared.notify_all()

    def hang(self, handle: str, delay_s: float, api: str = DEFAULT_API) -> None:
        """Hold the calling request until faults are cleared or ``delay_s`` passes."""
        book = self.book(handle, api)
        with book.lock:
            book.in_flight_hangs += 1
        try:
            with self._cleared:
                generation = self._generation
                self._cleared.wait_for(lambda: self._generation != generation, timeout=delay_s)
        finally:
            with book.lock:
                book.in_flight_hangs -= 1
