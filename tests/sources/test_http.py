"""The one retrying HTTP session of the REST sources (sources/http.py), against a real HTTP server on loopback
that answers a scripted sequence of statuses: what it retries, how long it waits, and what it gives back."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sources.http import RetryingSession, retry_after_seconds


class Script:
    """The statuses (and headers) the server answers, one per request, then 200."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests += 1
            return self.answers.pop(0) if self.answers else (200, {})


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            status, headers = script.next()
            body = b'{"ok": true}' if status == 200 else b'{"errors": [{"code": "injected"}]}'
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/things?token=secret", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def session(waits: list[float], **options: float) -> RetryingSession:
    return RetryingSession(sleep=waits.append, rng=random.Random(7), **options)


def test_429_and_5xx_are_retried_honouring_retry_after_with_a_little_jitter(server):
    url, script = server
    script.answers = [(429, {"Retry-After": "2"}), (503, {"Retry-After": "1"}), (500, {}), (502, {})]
    waits: list[float] = []
    http = session(waits, backoff_s=0.5)
    response = http.get(url)
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert script.requests == 5
    assert 2.0 <= waits[0] <= 2.0 + 0.25 and 1.0 <= waits[1] <= 1.0 + 0.15  # the server's word, plus jitter
    # no Retry-After: exponential in the attempt (0.5 s × 2^(n−1)) with equal jitter: half fixed, half random
    assert 1.0 <= waits[2] <= 2.0 and 2.0 <= waits[3] <= 4.0
    assert http.stats["retries"] == 4 and http.stats["retried_429"] == 1 and http.stats["retried_503"] == 1


def test_jitter_spreads_clients_that_fail_together():
    delays = {round(RetryingSession(rng=random.Random(seed)).delay(3, None), 6) for seed in range(20)}
    assert len(delays) == 20 and all(1.0 <= d <= 2.0 for d in delays)


def test_a_client_error_is_given_back_at_once_and_the_last_failure_after_max_attempts(server):
    url, script = server
    script.answers = [(403, {})]
    waits: list[float] = []
    assert session(waits).get(url).status_code == 403 and waits == [] and script.requests == 1

    script.answers = [(500, {})] * 10
    script.requests = 0
    waits = []
    assert session(waits, max_attempts=3).get(url).status_code == 500
    assert script.requests == 3 and len(waits) == 2


def test_a_dropped_connection_is_retried_then_raised():
    waits: list[float] = []
    http = session(waits, max_attempts=3, timeout_s=1)
    with pytest.raises(requests.ConnectionError):
        http.get("http://127.0.0.1:9/nothing-listens-here")
    assert len(waits) == 2 and http.stats["retried_ConnectionError"] == 2


def test_retry_after_as_an_http_date_and_garbage():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now=lambda: now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now=lambda: now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds(" 7 ") == 7.0


def test_the_log_line_never_carries_the_query_string(server, caplog):
    url, script = server
    script.answers = [(503, {"Retry-After": "0"})]
    with caplog.at_level("INFO", logger="sources.http"):
        session([]).get(url)
    assert "/v1/things" in caplog.text and "secret" not in caplog.text
