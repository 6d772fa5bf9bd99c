"""A Slack-compatible incoming-webhook receiver on loopback: it answers like ``hooks.slack.com`` and records what
each hook received.

``POST /services/T…/B…/<secret>`` with a JSON body (or a form field ``payload=<json>``, which Slack also takes):

| request | answer |
| --- | --- |
| a valid message (text and/or valid Block Kit blocks) | 200 ``ok`` (text/html), recorded under its hook |
| a body that is not a JSON object | 400 ``invalid_payload`` |
| ``blocks`` that is not a list | 400 ``invalid_blocks_format`` |
| a block Slack would refuse (type, text limits, > 50 blocks) | 400 ``invalid_blocks`` |
| neither text nor blocks | 400 ``no_text`` |
| a path that is no registered hook | 404 ``no_service`` |
| a fault queued for the hook (``inject``) | 429 ``rate_limited`` + ``Retry-After``, 500 ``rollup_error``, 404, 410 |

Controls (not Slack's): ``GET /_slack/health``, ``GET /_slack/messages`` (every hook's accepted messages),
``POST /_slack/faults {"hook", "kind", "count", "retry_after_s"}``, ``DELETE /_slack/faults``.

In tests: ``with SlackReceiver(hooks=["northwind"]) as slack: slack.url("northwind")``, then
``slack.messages("northwind")``; ``slack.inject("northwind", "http_429", retry_after_s=0)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sandbox.common.background import BackgroundServer
from sandbox.slack.blocks import problem

TEAM = "T0SANDBOX"
FAULTS = {"http_429": (429, "rate_limited"), "http_500": (500, "rollup_error"),
          "channel_not_found": (404, "channel_not_found"), "channel_is_archived": (410, "channel_is_archived")}


def hook_path(name: str) -> str:
    """A stable Slack-shaped path per hook name: /services/T0SANDBOX/B<8>/<24> (the same on every start)."""
    digest = hashlib.sha256(f"sandbox-slack/{name}".encode()).hexdigest()
    return f"/services/{TEAM}/B{digest[:8].upper()}/{digest[8:32]}"


@dataclass
class Received:
    payload: dict[str, Any]
    received_at: datetime
    user_agent: str


@dataclass
class QueuedFault:
    kind: str
    count: int = 1
    retry_after_s: int = 1


@dataclass
class Hook:
    name: str
    path: str
    accepted: list[Received] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, error) of every refused request
    faults: list[QueuedFault] = field(default_factory=list)


class Receiver:
    """The hooks and what they received, independent of the HTTP layer (thread-safe)."""

    def __init__(self, hooks: list[str] | tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        self.hooks: dict[str, Hook] = {}
        for name in hooks:
            self.add_hook(name)

    def add_hook(self, name: str) -> str:
        with self._lock:
            hook = self.hooks.setdefault(name, Hook(name, hook_path(name)))
            return hook.path

    def by_path(self, path: str) -> Hook | None:
        return next((h for h in self.hooks.values() if h.path == path), None)

    def inject(self, name: str, kind: str, count: int = 1, retry_after_s: int = 1) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULTS)}")
        if count < 1 or retry_after_s < 0:
            raise ValueError("count must be ≥ 1 and retry_after_s ≥ 0")
        with self._lock:
            self.hooks[name].faults.append(QueuedFault(kind, count, int(retry_after_s)))

    def clear_faults(self) -> None:
        with self._lock:
            for hook in self.hooks.values():
                hook.faults.clear()

    def answer(self, path: str, body: bytes, content_type: str, user_agent: str) -> tuple[int, str, dict]:
        """(status, body, headers) for one POST, recording it under its hook."""
        with self._lock:
            hook = self.by_path(path)
            if hook is None:
                return 404, "no_service", {}
            if hook.faults:
                fault = hook.faults[0]
                fault.count -= 1
                if fault.count == 0:
                    hook.faults.pop(0)
                status, error = FAULTS[fault.kind]
                hook.refused.append((status, error))
                headers = {"Retry-After": str(fault.retry_after_s)} if status == 429 else {}
                return status, error, headers
            payload = _payload(body, content_type)
            error = "invalid_payload" if payload is None else problem(payload)
            if error:
                hook.refused.append((400, error))
                return 400, error, {}
            hook.accepted.append(Received(payload, datetime.now(UTC), user_agent))
            return 200, "ok", {}


def _payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            fields = parse_qs(body.decode("utf-8"))
            body = fields.get("payload", [""])[0].encode("utf-8")
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def create_app(receiver: Receiver) -> Starlette:
    async def post(request: Request) -> PlainTextResponse:
        body = await request.body()
        status, text, headers = receiver.answer(request.url.path, body, request.headers.get("content-type", ""),
                                                request.headers.get("user-agent", ""))
        return PlainTextResponse(text, status_code=status, headers=headers, media_type="text/html")

    async def unknown(request: Request) -> PlainTextResponse:
        return PlainTextResponse("no_service", status_code=404, media_type="text/html")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "hooks": sorted(receiver.hooks)})

    async def messages(request: Request) -> JSONResponse:
        return JSONResponse({name: [r.payload for r in hook.accepted] for name, hook in receiver.hooks.items()})

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            receiver.clear_faults()
            return JSONResponse({"cleared": True})
        try:
            body = await request.json()
            receiver.inject(body["hook"], body["kind"], int(body.get("count", 1)), int(body.get("retry_after_s", 1)))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"hook (registered) and kind expected: {exc}"}, status_code=400)
        return JSONResponse({"queued": True})

    return Starlette(routes=[
        Route("/services/{team}/{bot}/{secret}", post, methods=["POST"]),
        Route("/services/{rest:path}", unknown, methods=["POST"]),
        Route("/_slack/health", health),
        Route("/_slack/messages", messages),
        Route("/_slack/faults", faults, methods=["POST", "DELETE"]),
    ])


class SlackReceiver(BackgroundServer):
    """The receiver on a loopback port in a background thread: ``with SlackReceiver(hooks=[...]) as slack``.
    ``port=0`` picks a free port."""

    name = "Slack receiver"
    health_path = "/_slack/health"
    graceful_s = 2

    def __init__(self, hooks: list[str] | tuple[str, ...] = (), *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.receiver = Receiver(hooks)

    def app(self) -> Starlette:
        return create_app(self.receiver)

    def url(self, hook: str) -> str:
        """The incoming-webhook URL of ``hook`` (registered on first use)."""
        return self.base_url + self.receiver.add_hook(hook)

    def messages(self, hook: str) -> list[dict[str, Any]]:
        return [r.payload for r in self.receiver.hooks[hook].accepted]

    def refused(self, hook: str) -> list[tuple[int, str]]:
        return list(self.receiver.hooks[hook].refused)

    def inject(self, hook: str, kind: str, count: int = 1, retry_after_s: int = 1) -> None:
        self.receiver.inject(hook, kind, count, retry_after_s)
