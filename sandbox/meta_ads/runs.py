"""Async report runs (``AdReportRun``): created by ``POST act_<id>/insights``, polled at ``GET /<id>``, read at
``GET /<id>/insights`` once ``async_status`` is ``Job Completed``.

A run's rows are computed when it is created (at the sandbox clock then), as Meta computes a report once.
How a run progresses is deterministic and counted in polls: by default ``Job Not Started`` at the first poll,
``Job Running`` after, ``Job Completed`` at the third. Tests queue other plans per shop
(``POST /_sandbox/meta_ads/jobs``): ``complete`` after N polls, ``fail`` (``Job Failed`` at the second poll) or
``stall`` (``Job Running`` for ever).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from typing import Any

OUTCOMES = ("complete", "fail", "stall")
DEFAULT_POLLS = 3
RUN_ID_BASE = 6_020_000_000_000_000


@dataclass(frozen=True)
class JobPlan:
    outcome: str = "complete"
    polls: int = DEFAULT_POLLS  # the poll that first sees "Job Completed"

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if not 1 <= self.polls <= 1000:
            raise ValueError("polls must be between 1 and 1000")


@dataclass
class ReportRun:
    id: str
    shop: str
    account_id: str
    date_start: date
    date_stop: date
    rows: list[dict[str, Any]]
    plan: JobPlan
    time_ref: int = field(default_factory=lambda: int(time.time()))
    polls: int = 0
    time_completed: int | None = None

    def poll(self) -> dict[str, Any]:
        """One status read: advances the job by one step of its plan."""
        self.polls += 1
        status, percent = self._state()
        if status == "Job Completed" and self.time_completed is None:
            self.time_completed = int(time.time())
        body: dict[str, Any] = {
            "id": self.id, "account_id": self.account_id, "time_ref": self.time_ref,
            "async_status": status, "async_percent_completion": percent,
            "date_start": self.date_start.isoformat(), "date_stop": self.date_stop.isoformat(),
            "is_running": status in ("Job Not Started", "Job Started", "Job Running"),
        }
        if self.time_completed is not None:
            body["time_completed"] = self.time_completed
        return body

    @property
    def completed(self) -> bool:
        return self._state()[0] == "Job Completed"

    def _state(self) -> tuple[str, int]:
        n, plan = self.polls, self.plan
        if plan.outcome == "fail":
            return ("Job Not Started", 0) if n <= 1 else ("Job Failed", 0)
        if plan.outcome == "stall":
            return ("Job Not Started", 0) if n <= 1 else ("Job Running", 42)
        if n >= plan.polls:
            return "Job Completed", 100
        if n <= 1:
            return "Job Not Started", 0
        return "Job Running", round(100 * (n - 1) / plan.polls)


class ReportRuns:
    """Every run of the twin, and the plans tests queued per shop."""

    def __init__(self) -> None:
        self._runs: dict[str, ReportRun] = {}
        self._plans: dict[str, deque[JobPlan]] = {}
        self._lock = threading.Lock()
        self._next = RUN_ID_BASE

    def create(self, shop: str, account_id: str, since: date, until: date, rows: list[dict[str, Any]]) -> ReportRun:
        with self._lock:
            self._next += 1
            queued = self._plans.get(shop)
            plan = queued.popleft() if queued else JobPlan()
            run = ReportRun(str(self._next), shop, account_id, since, until, rows, plan)
            self._runs[run.id] = run
            return run

    def get(self, run_id: str) -> ReportRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def of_shop(self, shop: str) -> list[ReportRun]:
        """The shop's runs in the order they were created."""
        with self._lock:
            return [run for run in self._runs.values() if run.shop == shop]

    def queue(self, shop: str, plan: JobPlan, count: int = 1) -> None:
        with self._lock:
            self._plans.setdefault(shop, deque()).extend([plan] * count)

    def clear_plans(self) -> None:
        with self._lock:
            self._plans.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            per_shop: dict[str, dict[str, int]] = {}
            for run in self._runs.values():
                entry = per_shop.setdefault(run.shop, {"created": 0, "completed": 0, "polls": 0})
                entry["created"] += 1
                entry["completed"] += run.completed
                entry["polls"] += run.polls
            return per_shop
