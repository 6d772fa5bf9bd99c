"""Great Expectations suites for the raw landings and the marts, and the runner that validates a tenant's slice.

A plain library (it never imports Dagster): ``orchestration/defs/quality.py`` turns each suite into a
tenant-partitioned Dagster asset check. See README.md for the suites, their parameters and how to add one.
"""

from expectations.parameters import TenantFacts, tenant_parameters
from expectations.runner import (
    DuckDBWarehouse,
    Outcome,
    PostgresWarehouse,
    SuiteResult,
    TableRef,
    validate_frame,
    validate_table,
)
from expectations.suites import Suite, SuiteError, default_suites, load_suites

__all__ = ["DuckDBWarehouse", "Outcome", "PostgresWarehouse", "Suite", "SuiteError", "SuiteResult", "TableRef",
           "TenantFacts", "default_suites", "load_suites", "tenant_parameters", "validate_frame", "validate_table"]
