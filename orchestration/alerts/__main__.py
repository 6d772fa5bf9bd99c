"""Evaluate and deliver alerts outside Dagster (the active profile's warehouse, ``OMNI_*`` from the environment):

  python -m orchestration.alerts                      # every tenant with rules
  python -m orchestration.alerts --tenant northwind   # one tenant
  python -m orchestration.alerts --digest             # send the daily digest instead
"""

from __future__ import annotations

import argparse
import sys

from orchestration.alerts.run import run_alerts, send_digest
from orchestration.settings import Settings
from orchestration.tenants import load_registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", action="append", help="a tenant slug (repeatable; default: all with rules)")
    parser.add_argument("--digest", action="store_true", help="send the daily digest instead of evaluating")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    registry = load_registry(settings.tenants_file)
    tenants = [registry.get(s) for s in args.tenant] if args.tenant else \
        [t for t in registry.tenants if t.alerts.active_rules]
    failed = False
    for tenant in tenants:
        if args.digest:
            firings, outcome = send_digest(settings, tenant)
            sent = outcome.via or f"FAILED: {outcome.error}"
            print(f"{tenant.slug}: digest of {len(firings)} firing(s) -> {sent}")
            failed |= not outcome.delivered
            continue
        result = run_alerts(settings, tenant)
        print(f"{tenant.slug}: {len(result.stored)} new firing(s), {result.duplicates} already fired, "
              f"{result.cooling} in cooldown; {len(result.delivered)} delivered, {len(result.failed)} failed")
        for firing in result.stored:
            print(f"  [{firing.severity}] {firing.rule} {firing.subject}: {firing.message}")
        for error in result.errors:
            print(f"  ERROR {error}", file=sys.stderr)
        failed |= bool(result.errors or result.failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
