"""The receiver on a port in a background thread (tests, the CLI): ``with ReceiverServer(...) as r: r.url(t)``."""

from __future__ import annotations

import threading
import time

import requests
import uvicorn

from orchestration.tenants import TenantRegistry
from orchestration.webhooks.app import DEFAULT_MAX_AGE_S, create_app
from orchestration.webhooks.spool import Spool


class ReceiverServer:
    """``port=0`` picks a free port (read it from ``.port`` once started)."""

    def __init__(self, registry: TenantRegistry, spool: Spool, *, host: str = "127.0.0.1", port: int = 0,
                 max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self.registry, self.spool = registry, spool
        self.host, self.port, self.max_age_s = host, port, max_age_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, tenant: str) -> str:
        """The address to subscribe for ``tenant``'s shop."""
        return f"{self.base_url}/webhooks/shopify/{tenant}"

    def start(self, timeout_s: float = 30.0) -> ReceiverServer:
        for slug in self.registry.slugs:
            self.spool.tenant(slug).recover()
        app = create_app(self.registry, self.spool, max_age_s=self.max_age_s)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="webhook-receiver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if not self._thread.is_alive():
                raise RuntimeError(f"the webhook receiver could not start on {self.host}:{self.port} (port in use?)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the webhook receiver did not answer within {timeout_s}s")
            time.sleep(0.01)
        return self

    def _ready(self) -> bool:
        if not self._server.started:
            return False
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        try:
            return requests.get(f"{self.base_url}/webhooks/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    def serve_forever(self, stop: threading.Event) -> None:
        self.start()
        try:
            while not stop.wait(0.5) and self._thread.is_alive():
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
