"""The Dagster side of the suites without a run: what a check evaluation carries, and the production profile
(PostgreSQL, through GX's SQL datasource) reading a tenant's own raw schema."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from expectations import TenantFacts, default_suites, tenant_parameters, validate_frame
from orchestration.defs.quality import check_result, error_result, run_suite, suite_table
from orchestration.settings import Settings
from orchestration.tenants import Tenant
from tests.support.databases import throwaway_database

SUITES = {s.name: s for s in default_suites()}
ACME = Tenant.model_validate({"slug": "acme", "display_name": "Acme", "currency": "GBP", "timezone": "Europe/London",
                              "settings": {"quality": {"max_order_total": "500"}}})
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_suites_read_the_tenants_own_slice():
    assert suite_table(SUITES["raw/files/orders"], "acme").label == "raw_files__acme.orders"
    assert suite_table(SUITES["marts/fct_orders"], "acme").label == "marts.fct_orders where tenant_id = 'acme'"


def test_an_evaluation_names_tenant_rules_and_records():
    suite = SUITES["raw/files/orders"]
    frame = pd.DataFrame({"order_id": ["K1", "K2"], "ordered_at": pd.to_datetime(["2026-02-01T10:00:00Z"] * 2),
                          "currency": ["GBP", "USD"], "shipping_amount": [1, 2], "channel": ["wholesale"] * 2})
    params = tenant_parameters(TenantFacts("acme", "GBP", "Europe/London"), now=NOW)
    evaluation = check_result(suite, "acme", validate_frame(suite, frame, params, table="raw_files__acme.orders"))
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    md = evaluation.metadata
    assert (md["tenant"].value, md["table"].value, md["rows_checked"].value, md["failed_expectations"].value) == (
        "acme", "raw_files__acme.orders", 2, 1)
    assert md["suite"].value == "expectations/suites/raw/files/orders.yaml"
    assert md["failure_details"].value == [{
        "rule": "expect_column_values_to_be_in_set(currency)", "severity": "critical", "success": False,
        "description": "the order currency is the tenant's", "element_count": 2, "unexpected_count": 1,
        "samples": [{"order_id": "K2", "currency": "USD"}]}]
    assert md["failures"].value.splitlines()[2] == (
        "| expect_column_values_to_be_in_set(currency)<br>*the order currency is the tenant's* | critical | 1 of 2 "
        "| order_id=K2, currency=USD |")
    assert evaluation.description.startswith("tenant 'acme': raw/files/orders: 1 of 8 expectations failed")
    passing = check_result(suite, "acme", validate_frame(suite, frame.iloc[:1], params))
    assert passing.passed and "failures" not in passing.metadata


def test_production_profile_validates_the_raw_schema_in_postgres():
    for url in throwaway_database("postgresql"):
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("""
                create schema raw_files__acme;
                create table raw_files__acme.orders (order_id text, ordered_at timestamptz, currency text,
                                                     shipping_amount numeric(18,2), channel text);
                insert into raw_files__acme.orders values
                  ('K1', '2026-02-01 10:00+00', 'GBP', 5.00, 'wholesale'),
                  ('K2', '2026-02-02 10:00+00', 'GBP', 500.01, 'wholesale'),  -- above acme's own max_order_total
                  ('K3', '2027-01-01 10:00+00', 'GBP', 0.00, 'wholesale');    -- future-dated
                create schema raw_files__other;  -- another tenant's landing, never read for acme
                create table raw_files__other.orders as select * from raw_files__acme.orders where false;
                insert into raw_files__other.orders values ('Z9', '2026-02-01 10:00+00', 'EUR', 1.00, 'wholesale');
            """)
        engine.dispose()
        settings = Settings.from_env({"OMNI_PROFILE": "production", "OMNI_PG_HOST": url.host,
                                      "OMNI_PG_PORT": str(url.port), "OMNI_PG_USER": url.username,
                                      "OMNI_PG_PASSWORD": url.password or "", "OMNI_PG_DATABASE": url.database})
        result = run_suite(SUITES["raw/files/orders"], ACME, settings, now=NOW)
        assert result.rows == 3
        assert {o.rule: (o.unexpected_count, o.samples) for o in result.failures} == {
            "expect_column_values_to_be_between(shipping_amount)": (
                1, ({"order_id": "K2", "shipping_amount": "500.01"},)),
            "expect_column_values_to_be_between(ordered_at)": (
                1, ({"order_id": "K3", "ordered_at": "2027-01-01T10:00:00+00:00"},)),
        }


def test_a_suite_that_cannot_run_fails_closed_without_the_secret():
    evaluation = error_result(SUITES["marts/fct_orders"], "acme",
                              RuntimeError('connection to "postgresql://omni:s3cr3t@db/omni" refused'), secret="s3cr3t")
    assert (evaluation.passed, evaluation.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert evaluation.description == (
        "tenant 'acme': marts/fct_orders could not run: RuntimeError: connection to "
        '"postgresql://omni:***@db/omni" refused')
    assert "s3cr3t" not in str(evaluation.metadata)
