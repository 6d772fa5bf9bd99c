"""Run the Slack receiver alone: ``python -m sandbox.slack --port 8767 --hook northwind --hook alpine``.

It prints each hook's incoming-webhook URL (stable per hook name), to put in the tenant's ``*_SLACK_WEBHOOK_URL``.
"""

from __future__ import annotations

import argparse
import signal
import threading

from sandbox.slack.receiver import SlackReceiver


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.slack", description="A Slack incoming-webhook twin.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback by default)")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--hook", action="append", default=[], help="a hook name (repeatable), e.g. a tenant slug")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with SlackReceiver(args.hook or ["default"], host=args.host, port=args.port) as slack:
        print(f"Slack receiver on {slack.base_url} (messages: {slack.base_url}/_slack/messages)")
        for hook in slack.receiver.hooks:
            print(f"  {hook}: {slack.url(hook)}")
        print("  Ctrl-C stops", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
