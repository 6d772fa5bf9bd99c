"""Tenant validation rules for every source (sources/rules.py): the split of a page, unit by unit, then end to end
through the Amazon source against the SP-API twin over real HTTP into DuckDB. Expected rows come from the
world's frames (which lines have more than one unit, which orders total under the bound), never from what landed."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import polars as pl
import pyarrow as pa
import pytest
import requests

from sandbox.amazon.index import AmazonShop
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import simulate_marketplace
from sources.amazon import amazon_source
from sources.money import MONEY
from sources.rules import QUARANTINE_SCHEMA, TenantRule, quarantine_rows, record_key, with_tenant_rules

D = Decimal
WHO = {"tenant": "acme", "source": "shop", "resource": "lines"}


def rule(**fields) -> TenantRule:
    return TenantRule.from_dict({"name": "r", "table": "lines", **fields})


def page() -> pa.Table:
    return pa.table({
        "id": ["a", "b", "c", "d", "e"],
        "currency": ["EUR", "USD", None, "EUR", "eur"],
        "quantity": pa.array([1, -2, 0, 7, None], pa.int64()),
        "amount": pa.array([D("10.00"), D("-0.01"), D("0.00"), D("99999999999999.99"), None], MONEY),
        "sku": ["SKU-1", "SKU-22", "sku-3", None, "SKU-X"],
    })


def split(*rules: TenantRule, key=("id",)) -> tuple[list, list[tuple]]:
    good, bad = quarantine_rows(page(), rules, **WHO, primary_key=key)
    assert good.schema == page().schema and bad.schema == QUARANTINE_SCHEMA
    return good["id"].to_pylist(), [(r["record_key"], r["rule"], r["reason"]) for r in bad.to_pylist()]


def test_allowed_values_are_compared_as_text_and_nulls_pass():
    good, bad = split(rule(name="eur_only", column="currency", allowed=["EUR"]))
    assert good == ["a", "c", "d"]  # c has no currency: a rule judges values that are there
    expected = "breaks the tenant's rule eur_only: expected one of EUR"
    assert bad == [("b", "tenant_rule:eur_only", f"currency 'USD' {expected}"),
                   ("e", "tenant_rule:eur_only", f"currency 'eur' {expected}")]
    good, _ = split(rule(column="quantity", allowed=[1, 0]))  # numbers in YAML are compared by their text
    assert good == ["a", "c", "e"]


def test_minimum_on_integers_and_money():
    assert split(rule(name="no_negative", column="quantity", minimum=0)) == (
        ["a", "c", "d", "e"], [("b", "tenant_rule:no_negative",
                                "quantity '-2' breaks the tenant's rule no_negative: expected at least 0")])
    good, bad = split(rule(name="no_refunds", column="amount", minimum="0"))
    assert good == ["a", "c", "d", "e"]  # 0.00 is not below 0
    assert bad == [("b", "tenant_rule:no_refunds",
                    "amount '-0.01' breaks the tenant's rule no_refunds: expected at least 0")]


def test_maximum_is_exact_on_money_a_float_could_not_tell_apart():
    # 99999999999999.99 and .98 are the same double; decimals tell them apart
    assert float(D("99999999999999.99")) == float(D("99999999999999.98"))
    good, bad = split(rule(name="cap", column="amount", maximum="99999999999999.98"))
    assert good == ["a", "b", "c", "e"]
    assert bad == [("d", "tenant_rule:cap",
                    "amount '99999999999999.99' breaks the tenant's rule cap: expected at most 99999999999999.98")]
    assert split(rule(column="amount", maximum="99999999999999.99"))[1] == []
    good, _ = split(rule(column="quantity", minimum="0.5", maximum=7))
    assert good == ["a", "d", "e"]  # -2 and 0 are below 0.5; 7 is at most 7


def test_pattern_is_a_regex_searched_in_the_text():
    good, bad = split(rule(name="sku_form", column="sku", pattern=r"^SKU-\d+$"))
    assert good == ["a", "b", "d"]
    assert [r[0] for r in bad] == ["c", "e"]
    assert bad[0][2] == r"sku 'sku-3' breaks the tenant's rule sku_form: expected matching ^SKU-\d+$"


def test_a_row_breaking_two_rules_gives_two_records_with_the_raw_row_and_money_as_text():
    rules = (rule(name="eur_only", column="currency", allowed=["EUR"]), rule(name="no_negative", column="amount",
                                                                              minimum="0"))
    good, bad = quarantine_rows(page(), rules, **WHO, primary_key=("id",))
    assert good["id"].to_pylist() == ["a", "c", "d"]
    records = bad.to_pylist()
    assert [(r["record_key"], r["rule"]) for r in records] == [("b", "tenant_rule:eur_only"),
                                                              ("b", "tenant_rule:no_negative"),
                                                              ("e", "tenant_rule:eur_only")]
    assert {(r["tenant"], r["source"], r["table"]) for r in records} == {("acme", "shop", "lines")}
    assert json.loads(records[0]["raw_record"]) == {"id": "b", "currency": "USD", "quantity": -2,
                                                    "amount": "-0.01", "sku": "SKU-22"}
    assert records[0]["quarantined_at"].tzinfo is not None


def test_record_keys_compound_and_keyless():
    row = {"day": date(2025, 3, 1), "sku": "A|B", "amount": D("1.50")}
    assert record_key(row, ("sku",)) == "A|B"
    assert record_key(row, ("day", "sku")) == '["2025-03-01", "A|B"]'
    keyless = record_key(row, ())
    assert keyless.startswith("sha256:") and keyless == record_key(dict(row), ())
    assert keyless != record_key({**row, "amount": D("1.51")}, ())


def test_other_tables_and_clean_pages_pass_untouched():
    table = page()
    good, bad = quarantine_rows(table, [rule(table="orders", column="nope", allowed=["x"])], **WHO)
    assert good is table and bad.num_rows == 0
    good, bad = quarantine_rows(table, [rule(column="id", pattern="^[a-e]$")], **WHO)
    assert good is table and bad.num_rows == 0


def test_an_unknown_column_fails_loudly_naming_what_exists():
    with pytest.raises(ValueError, match=r"rule 'r' names column 'colour', which table 'lines' does not have; "
                                         r"its columns: amount, currency, id, quantity, sku"):
        quarantine_rows(page(), [rule(column="colour", allowed=["red"])], **WHO)


@pytest.mark.parametrize(("fields", "words"), [
    ({"column": "c"}, "sets none of allowed, minimum, maximum, pattern"),
    ({"column": "c", "pattern": "(?<=a)b"}, "not a regex polars reads"),
    ({"column": "c", "minimum": "ten"}, "is not a decimal number"),
    ({"column": "c", "minimum": "5", "maximum": "1"}, "minimum 5 is above maximum 1"),
    ({"column": "c", "allowed": []}, "allowed is an empty list"),
    ({"column": "c", "maximum": "0.0000000000000000001"}, "more than 18 decimal places"),
    ({"name": "Bad Name", "column": "c", "allowed": ["x"]}, "must match"),
])
def test_a_rule_that_cannot_be_checked_is_refused(fields, words):
    with pytest.raises(ValueError, match=words):
        rule(**fields)


def test_a_rule_on_a_table_the_source_does_not_land_fails_before_reading():
    source = amazon_source(marketplace_id="ATVPDKIKX0DER", client_id="x", client_secret="x", refresh_token="x")
    with pytest.raises(ValueError, match=r"rules name tables it does not land: order_pages; its tables: "
                                         r"inventory_summaries, order_items, orders, refund_events, returns, "
                                         r"shipment_events"):
        with_tenant_rules(source, [TenantRule("r", "order_pages", "x", allowed=("y",))], tenant="acme",
                          source_name="amazon")


# --- end to end: the Amazon source against its twin ------------------------------------------------------------
SHOP, MARKETPLACE = "acme", "ATVPDKIKX0DER"
CLIENT = {"client_id": "amzn1.application-oa2-client.sandbox", "client_secret": "amzn1.oa2-cs.v1.sandbox"}
SPEC = WorldSpec(seed=11, start_date=date(2025, 1, 1), days=60, shops=[
    ShopSpec(handle=SHOP, name="Acme", currency="USD", timezone="America/New_York", access_token="shpat_acme",
             orders_per_day=3, n_products=8, channels={"amazon": {"orders_per_day": 4, "return_rate": 0.1}}),
])
SCHEMA = f"raw_amazon__{SHOP}"
MIN_TOTAL = "40.00"
RULES = [TenantRule("single_unit", "order_items", "quantity_ordered", maximum="1"),
         TenantRule("min_basket", "orders", "order_total_amount", minimum=MIN_TOTAL),
         TenantRule("usd_only", "orders", "order_total_currency_code", allowed=("USD",))]


@pytest.fixture(scope="module")
def market():
    return simulate_marketplace(SPEC, build_world(SPEC).shop(SHOP), "amazon", SPEC.shop(SHOP).channels["amazon"])


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        after_end = SPEC.end + timedelta(hours=1)
        requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": after_end.isoformat()},
                      timeout=10).raise_for_status()
        yield server


def run(tmp_path: Path, server, pipeline_name: str = f"amazon__{SHOP}") -> None:
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name, dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt" / pipeline_name),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    source = amazon_source(
        endpoint=f"{server.base_url}/amazon/sp", lwa_token_url=f"{server.base_url}/amazon/auth/o2/token",
        marketplace_id=MARKETPLACE, refresh_token=f"Atzr|sandbox-{SHOP}", start_date="2024-12-01T00:00:00Z",
        page_size=20, **CLIENT)
    pipeline.run(with_tenant_rules(source, RULES, tenant=SHOP, source_name="amazon"))


def sql(tmp_path: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(query.replace("$", SCHEMA)).fetchall()


def snapshot(tmp_path: Path) -> dict:
    return {
        "orders": sql(tmp_path, "select count(*), count(distinct amazon_order_id) from $.orders")[0],
        "items": sql(tmp_path, "select count(*), count(distinct order_item_id), sum(item_price_amount), "
                               "sum(quantity_ordered) from $.order_items")[0],
        "quarantine": sql(tmp_path, 'select rule, count(*), count(distinct "table" || record_key) '
                                    "from $.quarantine group by rule order by rule"),
    }


def test_bad_rows_wait_in_quarantine_while_good_ones_load_and_reruns_change_nothing(
        tmp_path, sandbox, market, caplog):
    lines, orders = market.lines, market.orders
    multi = lines.filter(pl.col("quantity") > 1)
    single = lines.filter(pl.col("quantity") <= 1)
    small = orders.filter(pl.col("total_cents") < int(D(MIN_TOTAL) * 100))
    assert multi.height > 0 and single.height > 0 and 0 < small.height < orders.height
    good_gross = D(int((single["quantity"] * single["unit_price_cents"]).sum())) / 100
    expected = {
        "orders": (orders.height - small.height, orders.height - small.height),
        "items": (single.height, single.height, good_gross, single.height),
        "quarantine": [("tenant_rule:min_basket", small.height, small.height),
                       ("tenant_rule:single_unit", multi.height, multi.height)],
    }

    with caplog.at_level(logging.WARNING, logger="sources.rules"):
        run(tmp_path, sandbox)
    assert snapshot(tmp_path) == expected
    warned = [r.getMessage() for r in caplog.records if r.name == "sources.rules"]
    assert len(warned) == small.height + multi.height  # one line per quarantined record
    assert all(m.startswith("tenant acme, source amazon, table ") for m in warned)

    # which items: exactly the world's multi-unit lines, each with its value and what was expected
    keys = {AmazonShop.item_id(i) for i in multi["line_id"].to_list()}
    rows = sql(tmp_path, "select record_key, reason, raw_record, tenant, source from $.quarantine "
                         "where \"table\" = 'order_items'")
    assert {r[0] for r in rows} == keys
    by_key = {AmazonShop.item_id(line["line_id"]): line for line in multi.iter_rows(named=True)}
    for key, reason, raw, tenant, source in rows:
        line = by_key[key]
        assert reason == (f"quantity_ordered '{line['quantity']}' breaks the tenant's rule single_unit: "
                          "expected at most 1")
        record = json.loads(raw)
        assert record["order_item_id"] == key and (tenant, source) == ("acme", "amazon")
        cents = line["quantity"] * line["unit_price_cents"]
        assert record["item_price_amount"] == f"{cents // 100}.{cents % 100:02d}"  # exact decimal text
    order_reasons = sql(tmp_path, "select reason from $.quarantine where rule = 'tenant_rule:min_basket' limit 1")
    assert order_reasons[0][0].startswith("order_total_amount '") and order_reasons[0][0].endswith(
        "' breaks the tenant's rule min_basket: expected at least 40.00")

    run(tmp_path, sandbox)  # incremental: nothing changed since its cursor
    assert snapshot(tmp_path) == expected
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sources.rules"):
        run(tmp_path, sandbox, pipeline_name=f"amazon__{SHOP}_full")  # a full re-read into the same tables
    assert len([r for r in caplog.records if r.name == "sources.rules"]) == len(warned)  # all quarantined again
    assert snapshot(tmp_path) == expected  # ... and merged onto themselves: not one duplicate, no good row lost
