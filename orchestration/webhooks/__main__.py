"""``python -m orchestration.webhooks serve [--host 127.0.0.1] [--port 8766] [--max-age-s 300]``
``python -m orchestration.webhooks subscribe [--receiver http://127.0.0.1:8766] [--tenant SLUG ...]``

Reads the registry (``OMNI_TENANTS_FILE``) and spools under ``$OMNI_HOME/webhooks``; defaults for port and
window come from ``OMNI_WEBHOOKS_PORT`` and ``OMNI_WEBHOOK_MAX_AGE_S``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from orchestration.settings import Settings
from orchestration.tenants import load_registry
from orchestration.webhooks.app import DEFAULT_MAX_AGE_S, secret_variable
from orchestration.webhooks.server import ReceiverServer
from orchestration.webhooks.spool import Spool, spool_root
from orchestration.webhooks.subscribe import subscribe_all


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestration.webhooks",
                                     description="Receive Shopify webhooks into the per-tenant spool.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve POST /webhooks/shopify/<tenant> until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback by default)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("OMNI_WEBHOOKS_PORT", "8766")))
    serve.add_argument("--max-age-s", type=float,
                       default=float(os.environ.get("OMNI_WEBHOOK_MAX_AGE_S", DEFAULT_MAX_AGE_S)),
                       help="refuse deliveries whose X-Shopify-Triggered-At is older than this")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    subscribe = commands.add_parser("subscribe", help="register the receiver with every webhook-enabled shop")
    subscribe.add_argument("--receiver", help="the receiver's base URL as the shop reaches it "
                           "(default http://127.0.0.1:$OMNI_WEBHOOKS_PORT)")
    subscribe.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    args = parser.parse_args(argv)

    if args.command == "subscribe":
        registry = load_registry(Settings.from_env().tenants_file)
        base = args.receiver or f"http://127.0.0.1:{os.environ.get('OMNI_WEBHOOKS_PORT', '8766')}"
        for done in subscribe_all(registry, base, tenants=args.tenant):
            print(f"{done.tenant:<12} {done.topic:<16} {'subscribed' if done.created else 'already subscribed'} "
                  f"→ {done.address}")
        return

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    registry = load_registry(settings.tenants_file)
    spool = Spool(spool_root(settings))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = ReceiverServer(registry, spool, host=args.host, port=args.port, max_age_s=args.max_age_s)
    enabled = [t.slug for t in registry.tenants if secret_variable(registry, t.slug)[0]]
    print(f"webhook receiver on http://{args.host}:{args.port}/webhooks/shopify/<tenant> for "
          f"{', '.join(enabled) or 'no tenant (add secrets.webhook_secret under a shopify source)'}; "
          f"spool {spool.root}", flush=True)
    server.serve_forever(stop)


if __name__ == "__main__":
    main()
