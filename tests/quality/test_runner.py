"""The GX runner on crafted data: every expectation kind the suites use holds on good rows and fails on bad
ones with the right counts and samples; slices stay within one tenant on DuckDB and on PostgreSQL alike."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from expectations import (
    DuckDBWarehouse,
    PostgresWarehouse,
    SuiteError,
    TableRef,
    TenantFacts,
    default_suites,
    load_suites,
    tenant_parameters,
    validate_frame,
    validate_table,
)
from expectations.parameters import PARAMETER_NAMES, ParameterError
from expectations.runner import engine
from expectations.suites import load_suite
from tests.support.databases import throwaway_database

NOW = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Berlin
TENANT = TenantFacts("acme", "EUR", "Europe/Berlin", {"max_unit_price": "100", "extra_order_currencies": ["GBP"]})

ORDERS_SUITE = {
    "description": "crafted: one of each expectation kind the shipped suites use",
    "key": ["order_id"],
    "expectations": [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": ["order_id", "line", "ordered_at", "currency", "unit_price", "gross", "discount",
                                   "amazon_id", "order_date"], "exact_match": False}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "order_id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "order_id"}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["order_id", "line"]}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "ordered_at", "min_value": {"$PARAMETER": "earliest_order_time"},
                    "max_value": {"$PARAMETER": "future_cutoff"}}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "currency", "value_set": {"$PARAMETER": "order_currencies"}},
         "description": "the order currency is the tenant's"},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "unit_price", "min_value": 0, "max_value": {"$PARAMETER": "max_unit_price"}}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b",
         "kwargs": {"column_A": "gross", "column_B": "discount", "or_equal": True}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "amazon_id", "regex": r"^\d{3}-\d{7}-\d{7}$"}},
        {"type": "expect_column_max_to_be_between",
         "kwargs": {"column": "order_date", "min_value": {"$PARAMETER": "freshness_cutoff"}}, "severity": "warning"},
    ],
}


def write_suite(root, path: str, body: dict):
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(yaml.safe_dump(body, sort_keys=False))
    return load_suite(file, known_parameters=PARAMETER_NAMES, root=root)


def good_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ["A1", "A2", "A3", "A4"],
        "line": [1, 1, 1, 1],
        "ordered_at": pd.to_datetime(["2026-02-27T10:00:00Z"] * 3 + ["2026-03-01T23:00:00Z"], utc=True),
        "currency": ["EUR", "EUR", "GBP", "EUR"],
        "unit_price": [Decimal("9.99"), Decimal("100.00"), Decimal("0.00"), Decimal("45.50")],
        "gross": [Decimal("10.00"), Decimal("5.00"), Decimal("0.00"), Decimal("7.00")],
        "discount": [Decimal("1.00"), Decimal("5.00"), Decimal("0.00"), Decimal("0.00")],
        "amazon_id": ["113-1234567-1234567", None, "028-7654321-7654321", "302-0000000-0000001"],
        "order_date": [date(2026, 2, 27)] * 3 + [date(2026, 3, 2)],
    })


def bad_frame() -> pd.DataFrame:
    frame = good_frame()
    frame.loc[1, "order_id"] = "A1"  # A1 twice (same line): unique 2 rows, compound unique 2 rows
    frame.loc[2, "ordered_at"] = pd.Timestamp("2031-01-01T00:00:00Z")  # future-dated
    frame.loc[3, "currency"] = "USD"
    frame.loc[0, "unit_price"] = Decimal("100.01")  # above the tenant's override of 100
    frame.loc[2, "unit_price"] = Decimal("-1.00")
    frame.loc[3, "discount"] = Decimal("7.01")  # a discount beyond gross
    frame.loc[0, "amazon_id"] = "113-123-1"
    frame["order_date"] = [date(2026, 2, 20)] * 4  # latest order 10 days before today (Berlin): stale
    return frame


@pytest.fixture(scope="module")
def orders_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("suites"), "raw/shop/orders.yaml", ORDERS_SUITE)


def test_parameters_come_from_the_tenant_and_the_clock():
    params = tenant_parameters(TENANT, now=NOW)
    assert params["tenant_id"] == "acme"
    assert params["tenant_currency"] == ["EUR"]
    assert params["order_currencies"] == ["EUR", "GBP"]
    assert params["max_unit_price"] == Decimal("100")  # the tenant's override
    assert params["max_order_total"] == Decimal("100000")  # the default (suites/parameters.yaml)
    assert params["future_cutoff"] == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert params["freshness_cutoff"] == date(2026, 2, 27)  # Berlin's 2 March minus 3 days
    assert set(params) == PARAMETER_NAMES


@pytest.mark.parametrize(("overrides", "message"), [
    ({"max_unit_price": 12.5}, "max_unit_price=12.5 is invalid: write amounts as quoted decimal text"),
    ({"max_order_totals": "5"}, "unknown quality parameter 'max_order_totals'"),
    ({"extra_order_currencies": ["eur"]}, "expected a list of ISO 4217 codes"),
    ({"freshness_max_age_days": -1}, "expected a whole number ≥ 0"),
])
def test_bad_overrides_name_the_tenant_and_the_parameter(overrides, message):
    with pytest.raises(ParameterError, match="tenant 'acme'") as err:
        tenant_parameters(TenantFacts("acme", "EUR", "Europe/Berlin", overrides), now=NOW)
    assert message in str(err.value)


def test_every_expectation_kind_holds_on_good_rows(orders_suite):
    result = validate_frame(orders_suite, good_frame(), tenant_parameters(TENANT, now=NOW))
    assert [o.rule for o in result.failures] == []
    assert (result.passed, result.severity, result.rows, len(result.outcomes)) == (True, None, 4, 10)


def test_every_expectation_kind_fails_on_bad_rows_with_counts_and_samples(orders_suite):
    result = validate_frame(orders_suite, bad_frame(), tenant_parameters(TENANT, now=NOW))
    failed = {o.rule: o for o in result.failures}
    counts = {rule: o.unexpected_count for rule, o in failed.items()}
    assert counts == {
        "expect_column_values_to_be_unique(order_id)": 2,
        "expect_compound_columns_to_be_unique(order_id, line)": 2,
        "expect_column_values_to_be_between(ordered_at)": 1,
        "expect_column_values_to_be_in_set(currency)": 1,
        "expect_column_values_to_be_between(unit_price)": 2,
        "expect_column_pair_values_a_to_be_greater_than_b(gross, discount)": 1,
        "expect_column_values_to_match_regex(amazon_id)": 1,
        "expect_column_max_to_be_between(order_date)": None,  # an aggregate: observed value, no rows
    }
    assert failed["expect_column_values_to_be_in_set(currency)"].samples == ({"order_id": "A4", "currency": "USD"},)
    assert failed["expect_column_values_to_be_between(unit_price)"].samples == (
        {"order_id": "A1", "unit_price": "100.01"}, {"order_id": "A3", "unit_price": "-1.00"})
    assert failed["expect_column_values_to_be_between(ordered_at)"].samples == (
        {"order_id": "A3", "ordered_at": "2031-01-01T00:00:00+00:00"},)
    assert failed["expect_column_pair_values_a_to_be_greater_than_b(gross, discount)"].samples == (
        {"order_id": "A4", "gross": "7.00", "discount": "7.01"},)
    assert failed["expect_column_max_to_be_between(order_date)"].observed == "2026-02-20"
    assert failed["expect_column_max_to_be_between(order_date)"].severity == "warning"
    assert (result.passed, result.severity) == (False, "critical")
    assert "expect_column_values_to_be_in_set(currency) [critical]: 1 of 4 rows, e.g. order_id=A4 currency=USD" in (
        result.summary())


def test_a_warning_alone_fails_with_warning_severity(orders_suite):
    frame = good_frame()
    frame["order_date"] = [date(2026, 2, 20)] * 4
    result = validate_frame(orders_suite, frame, tenant_parameters(TENANT, now=NOW))
    assert [o.rule for o in result.failures] == ["expect_column_max_to_be_between(order_date)"]
    assert (result.passed, result.severity) == (False, "warning")


def test_a_missing_column_fails_its_expectations_naming_it(orders_suite):
    result = validate_frame(orders_suite, good_frame().drop(columns=["currency"]), tenant_parameters(TENANT, now=NOW))
    failed = {o.rule: o for o in result.failures}
    assert set(failed) == {"expect_table_columns_to_match_set(order_id, line, ordered_at, …)",
                           "expect_column_values_to_be_in_set(currency)"}
    assert "currency" in failed["expect_column_values_to_be_in_set(currency)"].error
    columns = failed["expect_table_columns_to_match_set(order_id, line, ordered_at, …)"]
    assert "'missing': ['currency']" in columns.observed


# --- tables: tenant slices and references, on DuckDB and PostgreSQL ---------------------------------------------

LINES_SUITE = {
    "description": "crafted: lines of the tenant's orders",
    "key": ["line_key"],
    "references": {"order_in_orders": {"column": "order_key", "table": "orders", "key": "order_key"}},
    "expectations": [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "line_key"}},
        {"type": "expect_column_pair_values_to_be_equal",
         "kwargs": {"column_A": "order_key", "column_B": "order_in_orders",
                    "ignore_row_if": "both_values_are_missing"}},
        {"type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "currency", "value_set": {"$PARAMETER": "tenant_currency"}}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "amount", "min_value": 0, "max_value": {"$PARAMETER": "max_order_total"}}},
    ],
}
MARTS_SQL = """
create schema marts;
create table marts.orders (tenant_id varchar, order_key varchar);
create table marts.lines (tenant_id varchar, line_key varchar, order_key varchar, currency varchar,
                          amount decimal(18,2));
insert into marts.orders values ('acme', 'o1'), ('acme', 'o2'), ('other', 'o9');
insert into marts.lines values
  ('acme', 'l1', 'o1', 'EUR', 10.00), ('acme', 'l2', 'o2', 'EUR', 20.00), ('acme', 'l3', null, 'EUR', 5.00),
  ('acme', 'l4', 'o9', 'EUR', 1.00),       -- o9 is another tenant's order: an orphan in acme's slice
  ('acme', 'l5', 'o7', 'USD', 100000.01),  -- an orphan, in the wrong currency, above the plausible total
  ('other', 'l1', 'o9', 'USD', -99.00), ('other', 'x1', 'oX', 'GBP', 0.00);  -- other's own problems
"""
EXPECTED_ACME = {
    "expect_column_pair_values_to_be_equal(order_key, order_in_orders)": (
        2, ({"line_key": "l4", "order_key": "o9", "order_in_orders": None},
            {"line_key": "l5", "order_key": "o7", "order_in_orders": None})),
    "expect_column_values_to_be_in_set(currency)": (1, ({"line_key": "l5", "currency": "USD"},)),
    "expect_column_values_to_be_between(amount)": (1, ({"line_key": "l5", "amount": "100000.01"},)),
}


@pytest.fixture(scope="module")
def lines_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("suites"), "marts/lines.yaml", LINES_SUITE)


def outcome_map(result):
    return {o.rule: (o.unexpected_count, tuple(sorted(o.samples, key=lambda s: s["line_key"])))
            for o in result.failures}


def test_duckdb_slice_sees_only_the_tenants_rows_and_references(lines_suite):
    con = duckdb.connect()
    con.execute(MARTS_SQL)
    params = tenant_parameters(TenantFacts("acme", "EUR", "Europe/Berlin"), now=NOW)
    result = validate_table(lines_suite, DuckDBWarehouse(con), TableRef("marts", "lines", "acme"), params)
    assert result.rows == 5
    assert outcome_map(result) == EXPECTED_ACME
    other = validate_table(lines_suite, DuckDBWarehouse(con), TableRef("marts", "lines", "other"),
                           tenant_parameters(TenantFacts("other", "USD", "UTC"), now=NOW))
    assert outcome_map(other) == {
        "expect_column_pair_values_to_be_equal(order_key, order_in_orders)": (
            1, ({"line_key": "x1", "order_key": "oX", "order_in_orders": None},)),
        "expect_column_values_to_be_in_set(currency)": (1, ({"line_key": "x1", "currency": "GBP"},)),
        "expect_column_values_to_be_between(amount)": (1, ({"line_key": "l1", "amount": "-99.00"},)),
    }


def test_a_table_not_landed_is_reported_not_failed(lines_suite):
    result = validate_table(lines_suite, DuckDBWarehouse(duckdb.connect()), TableRef("raw_x__acme", "lines"),
                            tenant_parameters(TENANT, now=NOW))
    assert (result.passed, result.rows, result.outcomes) == (True, 0, ())
    assert "not landed" in result.note


def test_postgres_validates_in_the_database_with_the_same_results(lines_suite):
    for url in throwaway_database("postgresql"):
        engine_ = sa.create_engine(url, poolclass=sa.NullPool)
        with engine_.begin() as conn:
            conn.exec_driver_sql(MARTS_SQL.replace("decimal(18,2)", "numeric(18,2)"))
        engine_.dispose()
        params = tenant_parameters(TenantFacts("acme", "EUR", "Europe/Berlin"), now=NOW)
        result = validate_table(lines_suite, PostgresWarehouse(url.render_as_string(hide_password=False)),
                                TableRef("marts", "lines", "acme"), params)
        assert result.rows == 5
        assert outcome_map(result) == EXPECTED_ACME


# --- the shipped suites --------------------------------------------------------------------------------------

def test_shipped_suites_cover_the_raw_landings_and_the_marts_and_build_in_gx():
    suites = default_suites()
    assert {s.name for s in suites} >= {
        "raw/shopify/orders", "raw/shopify/order_line_items", "raw/files/orders", "raw/files/order_lines",
        "raw/amazon/orders", "raw/amazon/order_items",
        "marts/fct_orders", "marts/fct_order_lines", "marts/dim_customers", "marts/dim_products"}
    for suite in suites:
        gx_suite = engine().suite(suite)  # GX validates every configuration here
        assert len(gx_suite.expectations) == len(suite.expectations), suite.name
        assert suite.blocking and suite.key, suite.name
    references = {(s.name, r.table) for s in suites for r in s.references}
    assert {("marts/fct_order_lines", "fct_orders"), ("marts/fct_order_lines", "dim_products")} <= references


@pytest.mark.parametrize(("body", "message"), [
    ({**LINES_SUITE, "blockng": True}, "unknown keys ['blockng']"),
    ({**LINES_SUITE, "key": []}, "'key' must be a non-empty list"),
    ({**LINES_SUITE, "expectations": [{"type": "expect_column_values_to_be_between",
                                       "kwargs": {"column": "a", "max_value": {"$PARAMETER": "max_price"}}}]},
     "unknown parameter(s) ['max_price']"),
    ({**LINES_SUITE, "expectations": [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"},
                                       "severity": "fatal"}]}, "severity 'fatal'"),
    ({**LINES_SUITE, "references": {"r": {"table": "orders", "column": "order_key"}}}, "reference 'r' must be"),
])
def test_malformed_suites_are_refused_naming_the_file(tmp_path, body, message):
    with pytest.raises(SuiteError, match="lines.yaml") as err:
        write_suite(tmp_path, "marts/lines.yaml", body)
    assert message in str(err.value)


def test_suites_live_at_their_asset_path(tmp_path):
    write_suite(tmp_path, "marts/lines.yaml", LINES_SUITE)
    (tmp_path / "marts" / "deep").mkdir()
    (tmp_path / "marts" / "deep" / "lines.yaml").write_text(yaml.safe_dump(LINES_SUITE))
    with pytest.raises(SuiteError, match="raw/<source>/<table>.yaml or marts/<model>.yaml"):
        load_suites(tmp_path)


def test_the_library_never_imports_dagster():
    code = "import sys, expectations; expectations.default_suites(); assert 'dagster' not in sys.modules, 'dagster'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
