"""The FX rates dlt source against the Frankfurter twin, over real HTTP, into a real DuckDB; then the staging view.

Every rate is compared with ``sandbox.fx_rates.published_rates`` (the twin's frame: the exact Decimals it
publishes), never with what was landed. No test sleeps: the retry waits go to a recorder (``sleep=``).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from sandbox.fx_rates import published_rates
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec
from sources.fx_rates import FxRatesError, fx_rates_source, start_for, windows

SHOP = "fxshop"
SCHEMA = f"raw_fx_rates__{SHOP}"
REPORTING, CURRENCIES = "GBP", ["EUR", "USD"]  # base=EUR (no rebase) and base=USD (a cross rate)
START = "2025-01-01"  # New Year's Day: Frankfurter starts the series on 2024-12-31
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=43, start_date=date(2025, 1, 1), days=100, shops=[
        ShopSpec(handle=SHOP, name="FX Shop", currency=REPORTING, timezone="Europe/London", access_token="shpat_fx",
                 orders_per_day=2, wholesale_orders_per_week=0, n_products=4)])


@pytest.fixture
def server(spec):
    with SandboxServer(spec, port=0) as running:
        yield running


def control(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def run(tmp_path: Path, server, slept: list[float] | None = None, state: str = "dlt", **options) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"fx_rates__{SHOP}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=SCHEMA, pipelines_dir=str(tmp_path / state))
    options = {"currencies": CURRENCIES, "reporting_currency": REPORTING, "start_date": START, **options}
    pipeline.run(fx_rates_source(base_url=f"{server.base_url}/fx/v1", tenant=SHOP,
                                 sleep=(slept if slept is not None else []).append, **options))
    return pipeline


def landed(tmp_path: Path) -> dict[str, dict[date, Decimal]]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows = con.execute("select base_currency, quote_currency, rate_date, rate "
                           f"from {SCHEMA}.daily_rates").fetchall()
        distinct = con.execute(f"select count(distinct (rate_date, base_currency, quote_currency)) "
                               f"from {SCHEMA}.daily_rates").fetchone()[0]
    assert len(rows) == distinct, "a (date, base, quote) landed twice"
    out: dict[str, dict[date, Decimal]] = {}
    for base, quote, day, rate in rows:
        assert quote == REPORTING
        out.setdefault(base, {})[day] = rate
    return out


def expected(spec, as_of=None, since: str = START) -> dict[str, dict[date, Decimal]]:
    """The twin's published rates from the last business day on or before ``since`` (Frankfurter's series start)."""
    out = {}
    for code in CURRENCIES:
        rates = published_rates(spec, code, REPORTING, as_of=as_of)
        first = max(d for d in rates if d <= date.fromisoformat(since))
        out[code] = {d: r for d, r in rates.items() if d >= first}
    return out


def intervals(server) -> list[tuple[str, str]]:
    """(path, base) of every time-series request the twin answered, in order."""
    return [(path, query.get("base")) for path, query, _ in server.sandbox.twins["fx_rates"].history if ".." in path]


def test_full_load_lands_every_published_rate_exactly(tmp_path, server, spec):
    slept: list[float] = []
    run(tmp_path, server, slept, days_per_request=30)
    truth = expected(spec)
    assert landed(tmp_path) == truth
    assert min(truth["USD"]) == date(2024, 12, 31) and date(2025, 1, 1) not in truth["USD"]
    last = max(truth["EUR"])
    # one /latest probe per currency, then 30-day windows from the start to the last published day
    spans = list(windows(date.fromisoformat(START), last, 30))
    assert len(spans) >= 3
    assert intervals(server) == [(f"{a}..{b}", code) for code in CURRENCIES for a, b in spans]
    stats = control(server, "GET", "stats")["apis"]["fx_rates"]
    assert stats["shops"]["*"]["requests"] == len(CURRENCIES) * (1 + len(spans)) and slept == []
    assert {q["symbols"] for _, q, _ in server.sandbox.twins["fx_rates"].history} == {REPORTING}
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 f"where table_schema = '{SCHEMA}' and table_name = 'daily_rates'").fetchall())
        sample = con.execute(f"select rate from {SCHEMA}.daily_rates where base_currency = 'USD' "
                             "order by rate_date limit 1").fetchone()[0]
    assert types["rate"] == "DECIMAL(18,8)" and types["rate_date"] == "DATE"
    assert isinstance(sample, Decimal) and sample == truth["USD"][min(truth["USD"])]


def test_429_and_5xx_are_retried_and_the_rates_stay_exact(tmp_path, server, spec):
    control(server, "POST", "faults", api="fx_rates", kind="http_429", count=2, after=1)
    control(server, "POST", "faults", api="fx_rates", kind="http_503", count=1, after=4)
    control(server, "POST", "faults", api="fx_rates", kind="http_500", count=1, after=6)
    slept: list[float] = []
    run(tmp_path, server, slept, days_per_request=45)
    assert landed(tmp_path) == expected(spec)
    stats = control(server, "GET", "stats")["apis"]["fx_rates"]["shops"]["*"]
    assert stats["faults_fired_by_kind"] == {"http_429": 2, "http_503": 1, "http_500": 1}
    spans = len(list(windows(date.fromisoformat(START), max(expected(spec)["EUR"]), 45)))
    assert stats["requests"] == len(CURRENCIES) * (1 + spans) + 4
    # Retry-After: 1 on 429 and 503 (plus jitter under 0.15 s); the 500 backs off exponentially (0.25–0.5 s)
    assert len(slept) == 4
    assert sum(1 for s in slept if 1.0 <= s < 1.15) == 3 and sum(1 for s in slept if 0.25 <= s <= 0.5) == 1


def test_a_rerun_merges_without_duplicates(tmp_path, server, spec):
    run(tmp_path, server)
    run(tmp_path, server, state="fresh_state")  # no dlt state: the whole history again, merged
    run(tmp_path, server)  # incremental
    assert landed(tmp_path) == expected(spec)


def test_the_second_run_rereads_only_the_last_days(tmp_path, server, spec):
    # Friday 2025-03-14, 12:00 UTC: that day's rates come at 15:00 UTC, so the last landed is Thursday's
    control(server, "POST", "clock", as_of="2025-03-14T12:00:00Z")
    first = run(tmp_path, server)
    early = expected(spec, as_of=spec.start.replace(month=3, day=14, hour=12))
    assert landed(tmp_path) == early and max(early["USD"]) == date(2025, 3, 13)
    assert first.state["sources"]["fx_rates"]["resources"]["daily_rates"]["last_date"] == {
        "EUR": "2025-03-13", "USD": "2025-03-13"}
    control(server, "POST", "clock")  # the world's end
    done = len(server.sandbox.twins["fx_rates"].history)
    second = run(tmp_path, server, lookback_days=5)
    last = max(expected(spec)["EUR"])
    requested = [(p, q.get("base")) for p, q, _ in list(server.sandbox.twins["fx_rates"].history)[done:]]
    assert requested == [("latest", "EUR"), (f"2025-03-08..{last}", "EUR"),
                         ("latest", "USD"), (f"2025-03-08..{last}", "USD")]
    assert start_for("2025-03-13", START, 5) == date(2025, 3, 8)
    # Saturday 8 March: Frankfurter starts at Friday 7th; only those days were landed again
    reread = {code: [d for d in rates if d >= date(2025, 3, 7)] for code, rates in expected(spec).items()}
    assert second.last_trace.last_normalize_info.row_counts["daily_rates"] == sum(map(len, reread.values()))
    assert landed(tmp_path) == expected(spec)


def test_refusals_name_tenant_source_currency_and_range(tmp_path, server):
    with pytest.raises(PipelineStepFailed) as unknown:
        run(tmp_path, server, currencies=["JPY"])  # an ISO code the ECB twin does not quote
    message = str(unknown.value)
    assert "tenant 'fxshop'" in message and "fx_rates" in message and "JPY->GBP latest rate" in message
    assert "404: not found" in message
    # a 500 that outlasts every retry, on the first window
    control(server, "POST", "faults", api="fx_rates", kind="http_500", count=3, after=1)
    with pytest.raises(PipelineStepFailed) as failing:
        run(tmp_path, server, currencies=["USD"], days_per_request=30, max_attempts=3, state="other")
    message = str(failing.value)
    assert "tenant 'fxshop'" in message and "USD->GBP 2025-01-01..2025-01-30" in message and "HTTP 500" in message
    cause = failing.value.__context__
    while cause is not None and not isinstance(cause, FxRatesError):
        cause = cause.__context__
    assert isinstance(cause, FxRatesError)


def test_options_are_validated():
    for currencies, reporting, match in ((["EUR", "GBP"], "GBP", "reporting currency GBP"),
                                         (["usd"], "GBP", "ISO 4217"), (["USD", "USD"], "GBP", "distinct"),
                                         ([], "GBP", "no currencies")):
        with pytest.raises(ValueError, match=match):
            fx_rates_source(currencies=currencies, reporting_currency=reporting)
    with pytest.raises(ValueError, match="start_date"):
        fx_rates_source(currencies=["USD"], reporting_currency="GBP", start_date="01/01/2025")
    assert list(windows(date(2025, 1, 1), date(2025, 1, 5), 2)) == [
        (date(2025, 1, 1), date(2025, 1, 2)), (date(2025, 1, 3), date(2025, 1, 4)),
        (date(2025, 1, 5), date(2025, 1, 5))]


def test_the_registry_entry_validates_and_builds_with_the_tenants_currency(tmp_path, server, spec):
    from orchestration.connectors import CONNECTORS
    from orchestration.tenants import load_registry

    registry_file = tmp_path / "tenants.yaml"
    entry = {"slug": SHOP, "display_name": "FX Shop", "currency": REPORTING, "timezone": "Europe/London",
             "sources": {"fx_rates": {"base_url": f"{server.base_url}/fx/v1", "currencies": CURRENCIES,
                                      "start_date": START}}}
    registry_file.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(registry_file)
    tenant = registry.get(SHOP)
    cfg = tenant.source("fx_rates")
    assert cfg.currencies == CURRENCIES and cfg.lookback_days == 5
    source = CONNECTORS["fx_rates"].build(tenant, cfg, registry)
    assert list(source.resources) == ["daily_rates"]
    pipeline = dlt.pipeline(pipeline_name=f"fx_rates__{SHOP}", dataset_name=SCHEMA,
                            destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"),
                                                                enable_dataset_name_normalization=False),
                            pipelines_dir=str(tmp_path / "dlt"))
    pipeline.run(source)
    assert landed(tmp_path) == expected(spec)
    for bad, match in (({"currencies": ["USD", "GBP"]}, "reporting currency GBP"),
                       ({"currencies": ["USD"], "secrets": {"token": "FX_TOKEN"}}, "no secrets"),
                       ({"currencies": ["usd"]}, "ISO 4217")):
        entry["sources"]["fx_rates"] = {"base_url": "http://127.0.0.1:8765/fx/v1", **bad}
        registry_file.write_text(yaml.safe_dump({"tenants": [entry]}))
        with pytest.raises(ValueError, match=match):
            load_registry(registry_file)


STAGING_COLUMNS = [("tenant_id", "VARCHAR"), ("rate_date", "DATE"), ("base_currency", "VARCHAR"),
                   ("quote_currency", "VARCHAR"), ("rate", "DECIMAL(18,8)")]


def test_staging_view_exposes_exactly_the_contract(tmp_path, server, spec):
    run(tmp_path, server)
    db = tmp_path / "wh.duckdb"
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(db),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.fx_rates", "--vars",
         json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--no-use-colors"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'stg_{SHOP}' and table_name = 'stg_fx_rates__daily_rates' "
            "order by ordinal_position").fetchall()
        rows = con.execute(f"select tenant_id, base_currency, quote_currency, rate_date, rate "
                           f"from stg_{SHOP}.stg_fx_rates__daily_rates").fetchall()
    assert columns == STAGING_COLUMNS
    assert {t for t, *_ in rows} == {SHOP}
    staged: dict[str, dict[date, Decimal]] = {}
    for _, base, quote, day, rate in rows:
        assert quote == REPORTING
        staged.setdefault(base, {})[day] = rate
    assert staged == expected(spec)
