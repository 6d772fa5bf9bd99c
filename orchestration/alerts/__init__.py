"""Alert rules per tenant, evaluated over the warehouse, stored once, delivered to Slack (or a local log).

Plain Python, no Dagster (``orchestration/defs/alerts.py`` wraps it). ``config.AlertsConfig`` is the typed
``alerts:`` block of a tenant in ``tenants.yaml``; ``rules`` evaluates each rule kind with the same SQL on DuckDB
and PostgreSQL; ``store`` keeps ``alerts.firings`` with deduplication and a cooldown; ``delivery`` sends one Block
Kit message per firing; ``digest`` builds the daily digest; ``run.run_alerts`` ties them together for one tenant.
See README.md in this folder.
"""
