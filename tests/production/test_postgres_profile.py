"""The production profile end to end: one tenant's slice on a real PostgreSQL, compared row for row with the
embedded (DuckDB) profile.

One tenant trades on its online store (Shopify), wholesale (CSV drops with bad rows), Amazon and Walmart, and
has Meta ads, GA4 and QuickBooks; every source is served by the sandbox over real HTTP. The slice is run as the
profile runs it (conftest.run_slice): ``OMNI_PROFILE=production`` with ``OMNI_PG_*`` at a throwaway database,
Dagster's instance from the ``dagster.yaml`` the Makefile picks for the profile (runs and events in the same
PostgreSQL database), twice; then once with ``OMNI_PROFILE=embedded`` on a tmp DuckDB file. Every mart must
hold identical rows on both (exact decimals, timestamps as UTC instants), net revenue must reconcile to the
world's ground truth to the cent on PostgreSQL, and the second run must change no row count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg2
import pytest
import sqlalchemy as sa
import yaml

from sandbox.files_drop import write_drop
from sandbox.meta_ads import ad_spend_truth
from sandbox.truth import sales_truth
from sandbox.world import build_world
from tests.production.slice import (
    REPO,
    SHOP,
    STALE_WORLD,
    SliceRun,
    SliceSummary,
    finish_embedded,
    run_profile,
    start_embedded,
    world_spec,
)

MARTS = ["dim_channels", "dim_customers", "dim_date", "dim_product_costs", "dim_products", "dim_tenants",
         "fct_ad_spend", "fct_expenses", "fct_fees", "fct_inventory_snapshots", "fct_order_lines", "fct_orders",
         "fct_refunds", "fct_returns", "fct_traffic",
         # the cubes and the five reports: identical on both warehouses, row for row
         "cube_channel_daily", "cube_sales_daily", "rpt_channel_profitability", "rpt_cohort_retention",
         "rpt_inventory_intelligence", "rpt_ltv_cac", "rpt_return_rates"]
# Columns that record WHEN something was landed, not what: each profile's run lands at its own instant.
LANDING_TIME = {"dim_tenants": {"updated_at"}}
BAD_ROWS = 3


@dataclass
class Warehouses:
    pg_url: sa.URL
    duckdb_path: Path
    production: SliceRun
    embedded: SliceSummary
    counts_after_first: dict[str, int]


def pg_connect(url: sa.URL):
    return psycopg2.connect(host=url.host, port=url.port, user=url.username, password=url.password or None,
                            dbname=url.database)


def pg_row_counts(url: sa.URL) -> dict[str, int]:
    """Every mart's and every raw table's row count (dlt's bookkeeping and merge-staging schemas aside)."""
    with pg_connect(url) as con, con.cursor() as cur:
        cur.execute("""
            select table_schema || '.' || table_name from information_schema.tables
            where table_type = 'BASE TABLE' and (table_schema = 'marts' or table_schema like 'raw\\_%')
              and table_name not like '\\_dlt%' and table_schema not like '%\\_staging' order by 1""")
        tables = [t for (t,) in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f"select count(*) from {table}")
            counts[table] = cur.fetchone()[0]
    return counts


@pytest.fixture(scope="module")
def warehouses(pg_database, tmp_path_factory) -> Warehouses:
    """Production twice (in this process) while the embedded profile runs once in a process of its own (its own
    second run is tests/orchestration/test_materialize.py's subject)."""
    root = tmp_path_factory.mktemp("production")
    drops = root / "drops"
    write_drop(build_world(world_spec()).shop(SHOP), drops, bad_rows=BAD_ROWS)
    log = root / "embedded.log"
    embedded = start_embedded(root, drops, log)
    try:
        snapshot: dict[str, int] = {}
        production = run_profile("production", root, drops, pg=pg_database, runs=2,
                                 between=lambda: snapshot.update(pg_row_counts(pg_database)))
        summary = finish_embedded(embedded, log)
    finally:
        if embedded.poll() is None:
            embedded.kill()
            embedded.wait(timeout=30)
    return Warehouses(pg_database, root / "embedded" / "warehouse" / "omni.duckdb", production, summary, snapshot)


# --- helpers ------------------------------------------------------------------------------------------------

def comparable(value: object) -> tuple[str, object]:
    """A value as (type, exact value): decimals by their text (scale included), aware timestamps as UTC."""
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ("datetime+tz", value.astimezone(UTC))
    if isinstance(value, dict):  # jsonb (PostgreSQL) / JSON (DuckDB, parsed in duckdb_mart): key order is theirs
        return ("json", json.dumps(value, sort_keys=True))
    return (type(value).__name__, value)


def mart_rows(rows: list[tuple], columns: list[str], mart: str) -> list[tuple]:
    keep = [i for i, c in enumerate(columns) if c not in LANDING_TIME.get(mart, set())]
    return sorted((tuple(comparable(row[i]) for i in keep) for row in rows), key=repr)


def pg_mart(url: sa.URL, mart: str) -> tuple[list[str], list[tuple]]:
    with pg_connect(url) as con, con.cursor() as cur:
        cur.execute(f"select * from marts.{mart}")
        return [d[0] for d in cur.description], cur.fetchall()


def duckdb_mart(path: Path, mart: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        result = con.execute(f"select * from marts.{mart}")
        columns, rows = [d[0] for d in result.description], result.fetchall()
        json_columns = [i for i, d in enumerate(result.description) if str(d[1]) == "JSON"]
        if json_columns:
            rows = [tuple(json.loads(v) if i in json_columns and v is not None else v for i, v in enumerate(row))
                    for row in rows]
        return columns, rows


# --- the runs -----------------------------------------------------------------------------------------------

def test_both_profiles_run_the_slice_with_every_check_passing(warehouses):
    production, embedded = SliceSummary.of(warehouses.production), warehouses.embedded
    print("run seconds: production", production.seconds, "embedded", embedded.seconds)
    for name, summary, runs in (("production", production, 2), ("embedded", embedded, 1)):
        assert summary.success == [True] * runs, (name, summary.failures)
        assert min(summary.checks) > 100, (name, summary.checks)  # dbt's tests, as asset checks
        assert summary.failed_checks == [[STALE_WORLD]] * runs, name


def mart_tables(warehouses: Warehouses) -> list[str]:
    """The marts both warehouses hold (the same set), so a mart added later is compared too."""
    query = "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    with pg_connect(warehouses.pg_url) as con, con.cursor() as cur:
        cur.execute(query)
        pg = [t for (t,) in cur.fetchall()]
    with duckdb.connect(str(warehouses.duckdb_path), read_only=True) as con:
        duck = [t for (t,) in con.execute(query).fetchall()]
    assert pg == duck
    assert set(MARTS) <= set(pg)
    return pg


def test_every_mart_holds_the_same_rows_on_postgres_and_duckdb(warehouses):
    sizes = {}
    for mart in mart_tables(warehouses):
        pg_columns, pg_rows = pg_mart(warehouses.pg_url, mart)
        dk_columns, dk_rows = duckdb_mart(warehouses.duckdb_path, mart)
        assert pg_columns == dk_columns, mart
        pg, dk = mart_rows(pg_rows, pg_columns, mart), mart_rows(dk_rows, dk_columns, mart)
        if pg != dk:
            only_pg, only_dk = sorted(set(pg) - set(dk), key=repr), sorted(set(dk) - set(pg), key=repr)
            pytest.fail(f"marts.{mart}: {len(pg)} rows on PostgreSQL, {len(dk)} on DuckDB; first only on "
                        f"PostgreSQL {only_pg[:2]}, first only on DuckDB {only_dk[:2]}")
        sizes[mart] = len(pg)
    print("mart rows:", sizes)
    # every mart the world feeds has rows, so the comparison covers their SQL, not empty tables
    assert all(sizes[mart] for mart in MARTS), sizes


def test_money_columns_keep_their_exact_decimal_type_on_postgres(warehouses):
    with pg_connect(warehouses.pg_url) as con, con.cursor() as cur:
        cur.execute("select table_name, column_name, data_type, numeric_precision, numeric_scale "
                    "from information_schema.columns where table_schema = 'marts' order by 1, 2")
        pg = {(t, c): (dt, p, s) for t, c, dt, p, s in cur.fetchall()}
    with duckdb.connect(str(warehouses.duckdb_path), read_only=True) as con:
        duck = dict(((t, c), dt) for t, c, dt in con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'marts'").fetchall())
    assert pg.keys() == duck.keys()
    decimals = {k: v for k, v in duck.items() if v.startswith("DECIMAL")}
    assert len(decimals) >= 20  # amounts, prices, costs, spend across the marts
    for key, duck_type in decimals.items():
        assert pg[key] == ("numeric", *map(int, duck_type[8:-1].split(","))), key  # DECIMAL(18,2) = numeric(18,2)
    assert ("fct_orders", "net_revenue") in decimals and duck[("fct_orders", "net_revenue")] == "DECIMAL(18,2)"
    # no money column became a float on PostgreSQL
    assert not [k for k, (dt, _, _) in pg.items() if dt in ("double precision", "real")]


def test_net_revenue_reconciles_to_the_truth_to_the_cent_on_postgres(warehouses):
    spec = world_spec()
    shop = build_world(spec).shop(SHOP)
    truth = sales_truth(spec, shop)
    assert set(truth) == {"online_store", "wholesale", "amazon", "walmart"}
    with pg_connect(warehouses.pg_url) as con, con.cursor() as cur:
        cur.execute("""
            select o.channel, count(*), sum(o.gross_amount), sum(o.discount_amount), sum(o.refund_amount),
                   sum(o.net_revenue),
                   coalesce((select sum(f.amount) from marts.fct_fees f
                             where f.tenant_id = o.tenant_id and f.channel = o.channel), 0)
            from marts.fct_orders o where o.tenant_id = %s group by o.tenant_id, o.channel""", [SHOP])
        warehouse = {channel: dict(zip(("orders", "gross", "discounts", "refunds", "net", "fees"), figures,
                                       strict=True))
                     for channel, *figures in cur.fetchall()}
        cur.execute("select sum(spend) from marts.fct_ad_spend where tenant_id = %s", [SHOP])
        spend = cur.fetchone()[0]
        cur.execute(f"select count(*) from raw_files__{SHOP}.quarantine")
        quarantined = cur.fetchone()[0]
    assert warehouse == truth
    assert sum(f["net"] for f in warehouse.values()) == sum(f["net"] for f in truth.values()) > 0
    assert spend == ad_spend_truth(spec, shop)["spend"] > 0
    assert quarantined == BAD_ROWS


def test_a_second_production_run_changes_no_row_count(warehouses):
    before = warehouses.counts_after_first
    assert {f"marts.{m}" for m in MARTS} <= before.keys()
    assert f"raw_shopify__{SHOP}.orders" in before and f"raw_files__{SHOP}.quarantine" in before
    assert pg_row_counts(warehouses.pg_url) == before


def test_the_demo_summary_reads_the_production_warehouse(warehouses, monkeypatch, capsys):
    from orchestration.demo import print_summary
    from orchestration.settings import Settings
    from orchestration.tenants import load_registry

    for key, value in warehouses.production.env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    print_summary(settings, load_registry(settings.tenants_file))
    printed = capsys.readouterr().out
    spec = world_spec()
    net = sum(f["net"] for f in sales_truth(spec, build_world(spec).shop(SHOP)).values())
    assert f"{net:,.2f}" in printed and "(production profile)" in printed
    assert f"{BAD_ROWS:>13}" in printed.splitlines()[3]  # the tenant's row: quarantined file rows


def test_postgres_urls_name_the_driver_each_client_needs():
    from orchestration.settings import Settings

    pg = Settings.from_env({"OMNI_PROFILE": "production", "OMNI_PG_USER": "om ni", "OMNI_PG_PASSWORD": "p@ss:w/rd%",
                            "OMNI_PG_DATABASE": "wh"}).postgres
    assert pg.dlt_url().startswith("postgresql://") and pg.sqlalchemy_url().startswith("postgresql+psycopg2://")
    url = sa.make_url(pg.sqlalchemy_url())
    assert (url.username, url.password, url.host, url.port, url.database) == ("om ni", "p@ss:w/rd%", "127.0.0.1",
                                                                              5432, "wh")
    # dlt refuses a URL without a password, even under trust authentication
    assert sa.make_url(Settings.from_env({}).postgres.dlt_url()).password == "unused"


# --- Dagster on PostgreSQL ----------------------------------------------------------------------------------

def test_dagster_keeps_runs_and_events_in_postgres_on_the_production_profile(warehouses):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    instance = warehouses.production.instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    run_ids = {r.run_id for r in warehouses.production.results}
    with pg_connect(warehouses.pg_url) as con, con.cursor() as cur:
        cur.execute("select run_id, status from public.runs")
        runs = dict(cur.fetchall())
        cur.execute("select count(*) from public.event_logs where run_id = any(%s)", [list(run_ids)])
        events = cur.fetchone()[0]
    assert runs == {run_id: "SUCCESS" for run_id in run_ids}
    assert events > 1000  # every step, materialization and dbt test result of both runs
    import dagster as dg

    materialization = instance.get_latest_materialization_event(dg.AssetKey(["marts", "fct_orders"]))
    assert materialization is not None and materialization.run_id in run_ids
    assert materialization.dagster_event.partition == SHOP
    # the embedded profile's instance stays on local storage
    assert warehouses.embedded.run_storage == "SqliteRunStorage"


def test_the_makefile_gives_each_profile_its_dagster_config(tmp_path):
    from tests.production.slice import dagster_home

    production = dagster_home(tmp_path / "prod", "production") / "dagster.yaml"
    embedded = dagster_home(tmp_path / "emb", "embedded") / "dagster.yaml"
    assert production.read_text() == (REPO / "dagster.production.yaml").read_text()
    assert embedded.read_text() == (REPO / "dagster.yaml").read_text()
    # switching a home's profile replaces the copy (make would otherwise keep the newer file)
    dagster_home(tmp_path / "emb", "production")
    assert embedded.read_text() == production.read_text()
    config = yaml.safe_load(production.read_text())
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert {k: v["env"] for k, v in config["storage"]["postgres"]["postgres_db"].items() if isinstance(v, dict)} == {
        "hostname": "OMNI_PG_HOST", "port": "OMNI_PG_PORT", "username": "OMNI_PG_USER",
        "password": "OMNI_PG_PASSWORD", "db_name": "OMNI_PG_DATABASE"}
    assert "storage" not in yaml.safe_load((REPO / "dagster.yaml").read_text())  # embedded: local storage


# --- docker-compose.yml, structurally (no Docker engine here) -----------------------------------------------

def compose_default(value: str) -> str:
    """``${NAME:-default}`` → default (what compose substitutes when NAME is unset); other text unchanged."""
    if value.startswith("${") and ":-" in value and value.endswith("}"):
        return value[2:-1].split(":-", 1)[1]
    return value


def test_docker_compose_runs_the_production_profile_against_its_postgres():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "dagster-webserver", "dagster-daemon", "sandbox"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        for env_file in service.get("env_file", []):
            assert env_file.get("required", True) is False or (REPO / env_file["path"]).is_file(), (name, env_file)

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and "healthcheck" in postgres
    database = {key: compose_default(postgres["environment"][f"POSTGRES_{key}"])
                for key in ("USER", "PASSWORD", "DB")}
    named_volumes = set(compose["volumes"])
    for name in ("dagster-webserver", "dagster-daemon", "sandbox"):
        env = services[name]["environment"]
        assert env["OMNI_PROFILE"] == "production", name
        # the platform reaches the postgres service under its service name, as the database it creates
        assert env["OMNI_PG_HOST"] == "postgres" and env["OMNI_PG_PORT"] == "5432", name
        assert (compose_default(env["OMNI_PG_USER"]), compose_default(env["OMNI_PG_PASSWORD"]),
                compose_default(env["OMNI_PG_DATABASE"])) == (database["USER"], database["PASSWORD"], database["DB"])
        # the same variables drive both (a .env changes the service and the platform together)
        assert env["OMNI_PG_USER"] == postgres["environment"]["POSTGRES_USER"], name
        assert env["OMNI_PG_DATABASE"] == postgres["environment"]["POSTGRES_DB"], name
        for switch in ("DO_NOT_TRACK", "DBT_SEND_ANONYMOUS_USAGE_STATS", "RUNTIME__DLTHUB_TELEMETRY"):
            assert switch in env, (name, switch)
        # Dagster's instance is the production one: dagster.production.yaml mounted as $DAGSTER_HOME/dagster.yaml
        mounts = {m.split(":")[1]: m.split(":")[0] for m in services[name]["volumes"]}
        assert mounts[f"{env['DAGSTER_HOME']}/dagster.yaml"] == "./dagster.production.yaml", name
        assert env["DAGSTER_HOME"].startswith(env["OMNI_HOME"]) and mounts[env["OMNI_HOME"]] in named_volumes
        assert all((REPO / src).exists() for src in mounts.values() if src.startswith("./")), name
    for name in ("dagster-webserver", "dagster-daemon"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        command = services[name]["command"]
        assert (REPO / command[command.index("-w") + 1]).is_file(), name
    sandbox = services["sandbox"]["command"]
    assert (REPO / sandbox[sandbox.index("--world") + 1]).is_file()

    # the variables the platform reads resolve, with compose's defaults, to a production Settings
    from orchestration.settings import Settings

    env = {k: compose_default(str(v)) for k, v in services["dagster-daemon"]["environment"].items()}
    settings = Settings.from_env(env)
    assert settings.profile == "production"
    assert (settings.postgres.host, settings.postgres.user, settings.postgres.database) == (
        "postgres", database["USER"], database["DB"])


# --- the models on PostgreSQL ---------------------------------------------------------------------------------

def profile_settings(warehouses: Warehouses, profile: str):
    from orchestration.settings import Settings

    if profile == "production":
        return Settings.from_env(warehouses.production.env)
    return Settings.from_env({"OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(warehouses.duckdb_path)})


def test_the_models_read_identical_frames_from_both_warehouses(warehouses):
    """The ML frames come from the same SQL on both profiles: identical values and types, so a deterministic
    model trained on either gives the same predictions."""
    from polars.testing import assert_frame_equal

    from orchestration.defs.ml import read_frames

    pg = read_frames(profile_settings(warehouses, "production"), SHOP)
    duck = read_frames(profile_settings(warehouses, "embedded"), SHOP)
    for name in ("sales_daily", "products", "order_lines", "orders", "customers"):
        assert getattr(pg, name).height > 0, name
        assert_frame_equal(getattr(pg, name), getattr(duck, name), check_exact=True)
    assert pg.as_of == duck.as_of == date(2025, 3, 1)  # the world's 60th day


def test_prediction_tables_on_postgres_replace_one_tenant_slice_with_exact_money(warehouses):
    """A model's predictions written to PostgreSQL: money as numeric(18,2) rounded to the cent, the tenant's
    slice replaced in one transaction, another tenant's rows untouched."""
    import polars as pl

    from models_ml.catalogue import model
    from orchestration.predictions import replace_slice

    settings, spec = profile_settings(warehouses, "production"), model("pricing")

    def frame(price: float, version: int) -> pl.DataFrame:
        row = {name: None for name in spec.columns} | {
            "sku": "SKU-1", "current_price": 19.99, "recommended_price": price, "margin_impact_30d": -3.5,
            "elasticity": -2.5, "guardrail": "max_decrease"}
        return pl.DataFrame([row], schema={name: (pl.Utf8 if kind in ("varchar",) else pl.Float64)
                                           for name, kind in spec.columns.items()}).with_columns(
            as_of_date=pl.lit(date(2025, 3, 1)), model_version=pl.lit(version, dtype=pl.Int64),
            run_id=pl.lit(f"run{version}"))

    assert replace_slice(settings, spec.table, spec.columns, spec.key, "othershop", frame(9.99, 7)) == 1
    replace_slice(settings, spec.table, spec.columns, spec.key, SHOP, frame(17.991, 1))
    replace_slice(settings, spec.table, spec.columns, spec.key, SHOP, frame(18.005, 2))
    with pg_connect(warehouses.pg_url) as con, con.cursor() as cur:
        cur.execute(f"select tenant_id, recommended_price, margin_impact_30d, model_version, run_id "
                    f"from ml.{spec.table} order by tenant_id")
        rows = cur.fetchall()
        cur.execute("select data_type, numeric_precision, numeric_scale from information_schema.columns "
                    f"where table_schema = 'ml' and table_name = '{spec.table}' and column_name = 'recommended_price'")
        kind = cur.fetchone()
    assert rows == [("othershop", Decimal("9.99"), Decimal("-3.50"), 7, "run7"),
                    (SHOP, Decimal("18.01"), Decimal("-3.50"), 2, "run2")]
    assert kind == ("numeric", 18, 2)
