"""``python -m sandbox serve --world sandbox/worlds/demo.yaml --port 8765`` · ``python -m sandbox drop …``"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from sandbox.files_drop import write_drop
from sandbox.server import SandboxServer
from sandbox.world import WorldSpec, build_world


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the world's API twins over HTTP")
    serve.add_argument("--world", default="sandbox/worlds/demo.yaml")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    drop = commands.add_parser("drop", help="write a shop's wholesale channel as a CSV file drop")
    drop.add_argument("--world", default="sandbox/worlds/demo.yaml")
    drop.add_argument("--shop", required=True)
    drop.add_argument("--out", required=True)
    drop.add_argument("--bad-rows", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    spec = WorldSpec.load(args.world)
    if args.command == "drop":
        files = write_drop(build_world(spec).shop(args.shop), args.out, bad_rows=args.bad_rows)
        print(f"wrote {len(files)} files to {args.out}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SandboxServer(spec, host=args.host, port=args.port) as server:
        print(f"sandbox serving {', '.join(h for h in build_world(spec).handles)} on {server.base_url} "
              f"(Shopify: POST {server.base_url}/<shop>/admin/api/2025-01/graphql.json); Ctrl-C stops", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
