"""fct_competitor_prices end to end: the price-intelligence twin → the dlt source over real HTTP → dbt (the mart
and everything upstream of it) on a real DuckDB file, for the small shop of tests/conftest.py.

The shop's catalogue lands by hand from its world frames (the raw Shopify tables per contract, as conftest.py
lands its tenants), its competitor offers through ``sources.competitor_prices``. Every figure is compared with
what the twin serves (``sandbox.competitor_prices.competitor_feed``: integer cents), never with what landed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dlt
import duckdb
import pytest

from sandbox.competitor_prices import competitor_feed
from sandbox.server import SandboxServer
from sources.competitor_prices import competitor_prices_source
from tests.conftest import SMALL_SHOP
from tests.dbt.conftest import LANDED, PLATFORM_TENANTS, SHOPIFY, land, run_dbt

FIRST = ["--select", "+fct_competitor_prices", "--indirect-selection", "cautious"]  # and all it needs
AGAIN = ["--select", "stg_competitor_prices__offers", "fct_competitor_prices"]  # the incremental path
GAP_COLUMNS = "sku, competitor, observed_date, currency, competitor_price, our_price, price_gap_pct"


def cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def gap(theirs: int, ours: int) -> Decimal:
    return (Decimal(theirs - ours) / Decimal(ours)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def land_catalogue(con, world) -> None:
    """The registry row and the shop's Shopify catalogue (products, variants) from its world frames."""
    land(con, "raw_platform", "tenants", PLATFORM_TENANTS,
         [(SMALL_SHOP, world.spec.name, world.spec.currency, world.spec.timezone, "growth", 730, LANDED)])
    products = [(f"gid://shopify/Product/{p['product_id']}", p["title"], p["product_type"], p["vendor"], p["status"],
                 p["created_at"], p["updated_at"]) for p in world.products.iter_rows(named=True)]
    variants = [(f"gid://shopify/ProductVariant/{v['variant_id']}", f"gid://shopify/Product/{v['product_id']}",
                 v["sku"], v["title"], cents(v["price_cents"]), cents(v["unit_cost_cents"]), v["updated_at"])
                for v in world.variants.iter_rows(named=True)]
    land(con, f"raw_shopify__{SMALL_SHOP}", "products", SHOPIFY["products"], products)
    land(con, f"raw_shopify__{SMALL_SHOP}", "product_variants", SHOPIFY["product_variants"], variants)


class Warehouse:
    def __init__(self, workdir: Path) -> None:
        self.workdir, self.db = workdir, workdir / "warehouse.duckdb"

    def load_offers(self, server: SandboxServer) -> None:
        pipeline = dlt.pipeline(
            pipeline_name=f"competitor_prices__{SMALL_SHOP}", dataset_name=f"raw_competitor_prices__{SMALL_SHOP}",
            destination=dlt.destinations.duckdb(str(self.db), enable_dataset_name_normalization=False),
            pipelines_dir=str(self.workdir / "dlt"))
        pipeline.run(competitor_prices_source(base_url=f"{server.base_url}/competitor_prices/v1",
                                              api_key=f"cpi_sandbox_{SMALL_SHOP}", start_date="2025-01-01",
                                              tenant=SMALL_SHOP))

    def build(self, select: list[str]):
        run = run_dbt(self.workdir, self.db, ["build", *select], SMALL_SHOP, target="target")
        assert run.returncode == 0, f"dbt build failed:\n{run.output[-6000:]}"
        return run

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory, small_world_spec, small_world):
    """Land and build once, then land again (incremental) and rebuild the staging view and the mart (the
    existing table: delete the tenant's slice, append it again): the second slice must equal the first."""
    warehouse = Warehouse(tmp_path_factory.mktemp("competitor_prices"))
    with duckdb.connect(str(warehouse.db)) as con:
        land_catalogue(con, small_world.shop(SMALL_SHOP))
    with SandboxServer(small_world_spec, port=0) as server:
        warehouse.load_offers(server)
        first = warehouse.build(FIRST)
        first_rows = warehouse.query(f"select {GAP_COLUMNS} from marts.fct_competitor_prices order by 1, 2, 3")
        warehouse.load_offers(server)
        second = warehouse.build(AGAIN)
    return warehouse, [first, second], first_rows


@pytest.fixture(scope="module")
def feed(small_world_spec, small_world):
    return competitor_feed(small_world_spec, small_world.shop(SMALL_SHOP))


def test_the_builds_pass_with_the_mart_its_tests_and_its_unit_test(built):
    _, runs, _ = built
    for run in runs:
        statuses = run.statuses()
        assert statuses["model.omnianalytics.fct_competitor_prices"] == "success"
        assert statuses["unit_test.omnianalytics.fct_competitor_prices.fct_competitor_prices_gap_and_conversion"] \
            == "pass"
        mart_tests = [uid for uid in statuses if uid.startswith("test.") and "fct_competitor_prices" in uid]
        assert len(mart_tests) == 10 and all(statuses[uid] == "pass" for uid in mart_tests), mart_tests


def test_the_latest_gap_of_each_undercut_sku_is_what_the_twin_served_to_the_cent(built, feed):
    warehouse, _, _ = built
    latest = {(sku, competitor): row for sku, competitor, *row in warehouse.query(
        f"select {GAP_COLUMNS} from marts.fct_competitor_prices as f where tenant_id = ? and observed_date = "
        "(select max(observed_date) from marts.fct_competitor_prices as l where l.tenant_id = f.tenant_id "
        " and l.sku = f.sku and l.competitor = f.competitor)", [SMALL_SHOP])}
    served = feed.undercut_on(feed.last_day)
    assert served.height == feed.undercuts.height == 2  # min_undercut: the small shop has 27 SKUs
    for offer in served.iter_rows(named=True):
        day, currency, theirs, ours, pct = latest[(offer["sku"], offer["competitor"])]
        assert day == feed.last_day and currency == "USD"
        assert theirs == cents(offer["price_cents"]) and ours == cents(offer["our_price_cents"])
        assert pct == gap(offer["price_cents"], offer["our_price_cents"]) and pct < Decimal("-0.10")
    # exactly the planted undercuts are more than 10 % below us on their latest day, nothing else
    below = {pair for pair, (_, _, _, _, pct) in latest.items() if pct < Decimal("-0.1")}
    assert below == set(zip(feed.undercuts["sku"], feed.undercuts["competitor"], strict=True))


def test_every_served_offer_is_one_row_with_exact_money(built, feed):
    warehouse, _, _ = built
    rows = warehouse.query(f"select {GAP_COLUMNS} from marts.fct_competitor_prices where tenant_id = ?",
                           [SMALL_SHOP])
    mart = {(sku, competitor, day): (theirs, ours, pct) for sku, competitor, day, _, theirs, ours, pct in rows}
    assert len(mart) == len(rows) == feed.offers.height  # the whole history, no duplicates after two loads
    for offer in feed.offers.iter_rows(named=True):
        theirs, ours, pct = mart[(offer["sku"], offer["competitor"], offer["observed_date"])]
        assert (theirs, ours, pct) == (cents(offer["price_cents"]), cents(offer["our_price_cents"]),
                                      gap(offer["price_cents"], offer["our_price_cents"]))
    types = dict(warehouse.query("select column_name, data_type from information_schema.columns "
                                 "where table_schema = 'marts' and table_name = 'fct_competitor_prices'"))
    assert types == {"tenant_id": "VARCHAR", "sku": "VARCHAR", "competitor": "VARCHAR", "observed_date": "DATE",
                     "currency": "VARCHAR", "competitor_price": "DECIMAL(18,2)", "our_price": "DECIMAL(18,2)",
                     "price_gap_pct": "DECIMAL(18,4)"}
    column_order = [c for (c,) in warehouse.query(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fct_competitor_prices' order by ordinal_position")]
    assert column_order[0] == "tenant_id"


def test_the_rebuild_replaces_the_tenants_slice_exactly(built):
    warehouse, _, first_rows = built
    assert warehouse.query(f"select {GAP_COLUMNS} from marts.fct_competitor_prices order by 1, 2, 3") == first_rows
