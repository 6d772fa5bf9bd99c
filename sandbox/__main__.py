"""The sandbox's command line.

  python -m sandbox serve --world sandbox/worlds/demo.yaml --port 8765 [--host 127.0.0.1]
  python -m sandbox drop --world sandbox/worlds/demo.yaml --shop northwind --out DIR [--bad-rows N]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import UTC, datetime

from sandbox.files_drop import write_drop
from sandbox.server import SandboxServer
from sandbox.shopify.throttle import DEFAULT_MAXIMUM_AVAILABLE, DEFAULT_RESTORE_RATE
from sandbox.world import WorldSpec, build_world

DEMO_WORLD = "sandbox/worlds/demo.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="The OmniAnalytics sandbox.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the world's API twins over HTTP until interrupted")
    serve.add_argument("--world", default=DEMO_WORLD, help="world spec (YAML)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback by default)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--maximum-available", type=float, default=DEFAULT_MAXIMUM_AVAILABLE,
                       help="each shop's cost bucket size (Shopify Plus: 20000)")
    serve.add_argument("--restore-rate", type=float, default=DEFAULT_RESTORE_RATE,
                       help="points restored per second (Shopify Plus: 1000)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"],
                       help="debug logs one line per request")
    drop = commands.add_parser("drop", help="write a shop's wholesale channel as a CSV file drop")
    drop.add_argument("--world", default=DEMO_WORLD, help="world spec (YAML)")
    drop.add_argument("--shop", required=True)
    drop.add_argument("--out", required=True, help="folder to write into")
    drop.add_argument("--bad-rows", type=int, default=0, help="malformed rows to append (for quarantine)")
    drop.add_argument("--as-of", help="ISO 8601 instant: only what exists by then")
    args = parser.parse_args(argv)

    spec = WorldSpec.load(args.world)
    if args.command == "drop":
        as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00")) if args.as_of else None
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        files = write_drop(build_world(spec).shop(args.shop), args.out, as_of=as_of, bad_rows=args.bad_rows)
        print(f"wrote {len(files)} files to {args.out}")
        return

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with SandboxServer(spec, host=args.host, port=args.port, maximum_available=args.maximum_available,
                       restore_rate=args.restore_rate) as server:
        print(f"sandbox serving {', '.join(s.handle for s in spec.shops)} on {server.base_url}\n"
              f"  Shopify Admin GraphQL: POST {server.base_url}/<shop>/admin/api/2025-01/graphql.json\n"
              f"  controls: {server.base_url}/_sandbox/health · stats · faults · clock · throttle\n"
              "  Ctrl-C stops", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
