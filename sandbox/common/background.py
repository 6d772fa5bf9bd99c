"""A Starlette app served by uvicorn on a loopback port in a daemon thread: what the sandbox (sandbox/server.py)
and the Slack receiver (sandbox/slack/receiver.py) are in tests and in ``make demo``.

``start`` returns once the app's health path answers (polled with a bound, never a fixed sleep); ``port=0``
picks a free port, read back from ``.port``. Use it as a context manager.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Self

import requests
import uvicorn


class BackgroundServer:
    name = "server"  # in the thread's name and the errors
    health_path = "/health"
    graceful_s = 5

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def app(self) -> Any:
        """The ASGI app to serve."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Self:
        config = uvicorn.Config(self.app(), host=self.host, port=self.port, log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=self.graceful_s)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} could not start on {self.host}:{self.port} (port in use?)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the {self.name} did not answer its health check within {timeout_s}s")
            time.sleep(0.01)
        return self

    def _ready(self) -> bool:
        if not self._server.started:
            return False
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        try:
            return requests.get(f"{self.base_url}{self.health_path}", timeout=2).ok
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
