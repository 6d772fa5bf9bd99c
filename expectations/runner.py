"""Validate a table slice against a suite with Great Expectations 1.x and return a compact result.

GX has no DuckDB datasource (its generic SQL path fails on DuckDB), so on DuckDB the slice is read into a
pandas frame (through Arrow: decimals stay ``Decimal``, never floats) and validated with GX's pandas
datasource. On PostgreSQL, GX's own SQL datasource validates a query of the slice in the database. Either way
only the columns the suite names are read, and only the tenant's slice: a raw schema is the tenant's own
(``raw_<source>__<tenant>``), a mart is filtered on ``tenant_id``. References (referential integrity) are
left joins, in the database, on the distinct keys of another table of the same slice: the frame gets a column
holding the key where it was found, which ``expect_column_pair_values_to_be_equal`` compares (GX's big
``value_set`` lists would be re-serialized per metric and cost seconds per check).

GX is imported lazily, once per process (~3–5 s); each validation then takes well under a second. One
ephemeral GX context serves the process (nothing is written to disk), with progress bars off and analytics
off (``GX_ANALYTICS_ENABLED=False``: GX 1.24 ships no analytics client any more, the switch is defensive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from expectations.suites import Reference, Suite

SAMPLE_LIMIT = 5  # unexpected records kept per failed expectation
_INDEX_KEY = "omni_index"


@dataclass(frozen=True)
class TableRef:
    """A table slice: ``schema.table``, restricted to ``tenant_id = <tenant_id>`` when given (shared marts)."""

    schema: str
    table: str
    tenant_id: str | None = None

    @property
    def label(self) -> str:
        where = f" where tenant_id = {self.tenant_id!r}" if self.tenant_id else ""
        return f"{self.schema}.{self.table}{where}"

    @property
    def sql_name(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.table)}"

    def where(self, alias: str, placeholder: str | None) -> tuple[str, list[Any]]:
        """The tenant filter: a bound parameter with ``placeholder``, else a quoted literal (GX query assets)."""
        if self.tenant_id is None:
            return "", []
        if placeholder:
            return f" where {alias}tenant_id = {placeholder}", [self.tenant_id]
        return f" where {alias}tenant_id = '" + self.tenant_id.replace("'", "''") + "'", []


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def slice_query(ref: TableRef, columns: Sequence[str], references: Sequence[tuple[Reference, TableRef | None]],
                *, placeholder: str | None) -> tuple[str, list[Any]]:
    """SQL reading ``columns`` of the slice plus one column per reference: the referenced key where the target
    slice has it, else null (a left join on the target's distinct keys; a missing target table gives null)."""
    select = [f"t.{_ident(c)}" for c in columns]
    joins, params = [], []
    for i, (reference, target) in enumerate(references):
        if target is None:
            select.append(f"null as {_ident(reference.name)}")
            continue
        where, where_params = target.where("", placeholder)
        joins.append(f" left join (select distinct {_ident(reference.key)} as k from {target.sql_name}{where}) r{i}"
                     f" on r{i}.k = t.{_ident(reference.column)}")
        params += where_params
        select.append(f"r{i}.k as {_ident(reference.name)}")
    where, where_params = ref.where("t.", placeholder)
    sql = f"select {', '.join(select) or '*'} from {ref.sql_name} t{''.join(joins)}{where}"
    return sql, params + where_params


@dataclass(frozen=True)
class Outcome:
    """One expectation's result: the rule, whether it held, how many records broke it, and a few of them."""

    rule: str
    severity: str
    success: bool
    description: str = ""
    element_count: int | None = None
    unexpected_count: int | None = None
    observed: str | None = None
    samples: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in {
            "rule": self.rule, "severity": self.severity, "success": self.success, "description": self.description,
            "element_count": self.element_count, "unexpected_count": self.unexpected_count,
            "observed": self.observed, "samples": [dict(s) for s in self.samples], "error": self.error,
        }.items() if v not in (None, "", [])}


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    rows: int
    outcomes: tuple[Outcome, ...]
    seconds: float
    table: str = ""
    note: str = ""  # e.g. the table was never landed for this tenant

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.success)

    @property
    def severity(self) -> str | None:
        """The worst severity among the failures (critical > warning > info), None when all held."""
        for level in ("critical", "warning", "info"):
            if any(o.severity == level for o in self.failures):
                return level
        return None

    @property
    def passed(self) -> bool:
        """No critical or warning expectation failed (info failures are reported, not judged)."""
        return self.severity in (None, "info")

    def summary(self) -> str:
        if not self.outcomes:
            return f"{self.suite}: {self.note or 'no expectations'}"
        if not self.failures:
            return f"{self.suite}: all {len(self.outcomes)} expectations held on {self.rows} rows"
        parts = []
        for o in self.failures:
            count = f"{o.unexpected_count} of {o.element_count} rows" if o.unexpected_count is not None else (
                f"observed {o.observed}" if o.observed is not None else (o.error or "failed"))
            sample = f", e.g. {_sample_text(o.samples[0])}" if o.samples else ""
            parts.append(f"{o.rule} [{o.severity}]: {count}{sample}")
        return (f"{self.suite}: {len(self.failures)} of {len(self.outcomes)} expectations failed on "
                f"{self.rows} rows: " + "; ".join(parts))


def _sample_text(sample: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sample.items())


# --- GX, imported lazily once per process -------------------------------------------------------------------

_lock = threading.RLock()
_engine: _Engine | None = None


class _Engine:
    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        self.gx = gx
        self.configuration = ExpectationConfiguration
        self.context = gx.get_context(mode="ephemeral")
        self.context.config.analytics_enabled = False
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        frames = self.context.data_sources.add_pandas("omni_frames")
        self.frame_batches = frames.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
        self.suites: dict[tuple[str, str], Any] = {}
        self.sql_sources: dict[str, Any] = {}
        self.queries = 0

    def suite(self, suite: Suite) -> Any:
        """The GX ExpectationSuite of a suite file, built once (GX validates each configuration here)."""
        key = (suite.name, str(suite.path))
        if key not in self.suites:
            expectations = []
            for index, spec in enumerate(suite.expectations):
                try:
                    config = self.configuration(type=spec.type, kwargs=dict(spec.kwargs), severity=spec.severity,
                                                meta={**spec.meta, _INDEX_KEY: index}, notes=spec.notes,
                                                description=spec.description or None)
                    expectations.append(config.to_domain_obj())
                except Exception as exc:  # GX's own configuration errors: name the file and the rule
                    raise ValueError(f"{suite.path}: expectation #{index + 1} {spec.rule}: {exc}") from exc
            self.suites[key] = self.gx.ExpectationSuite(name=suite.name, expectations=expectations)
        return self.suites[key]

    def sql_source(self, url: str) -> Any:
        if url not in self.sql_sources:
            name = f"omni_pg_{len(self.sql_sources)}"
            self.sql_sources[url] = self.context.data_sources.add_postgres(name, connection_string=url)
        return self.sql_sources[url]


def engine() -> _Engine:
    """The process's GX engine (imports GX on first use)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def _result_format(key_columns: Sequence[str]) -> dict[str, Any]:
    fmt: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
    if key_columns:
        fmt["unexpected_index_column_names"] = list(key_columns)
    return fmt


def validate_frame(suite: Suite, frame: Any, parameters: Mapping[str, Any], *, table: str = "") -> SuiteResult:
    """Validate a pandas DataFrame (the tenant's slice) against ``suite`` with the given parameter values."""
    started = time.monotonic()
    gx_engine = engine()
    keys = [k for k in suite.key if k in frame.columns]
    with _lock:
        batch = gx_engine.frame_batches.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(gx_engine.suite(suite), expectation_parameters=dict(parameters),
                                result_format=_result_format(keys))
    return _compact(suite, result, rows=len(frame), keys=keys, started=started, table=table)


def _compact(suite: Suite, result: Any, *, rows: int, keys: Sequence[str], started: float, table: str) -> SuiteResult:
    by_index = {}
    for r in result.results:
        index = (r.expectation_config.meta or {}).get(_INDEX_KEY)
        by_index[index] = r
    outcomes = []
    for index, spec in enumerate(suite.expectations):
        r = by_index.get(index)
        if r is None:
            outcomes.append(Outcome(spec.rule, spec.severity, False, spec.description, error="GX returned no result"))
            continue
        res = r.result or {}
        error = _error(r.exception_info)
        outcomes.append(Outcome(
            rule=spec.rule, severity=spec.severity, success=bool(r.success), description=spec.description,
            element_count=res.get("element_count"), unexpected_count=res.get("unexpected_count"),
            observed=None if "observed_value" not in res else _observed(res["observed_value"], res.get("details")),
            samples=() if r.success else _samples(res, spec.columns, keys), error=error,
        ))
    return SuiteResult(suite=suite.name, rows=rows, outcomes=tuple(outcomes), seconds=time.monotonic() - started,
                       table=table)


def _error(info: Any) -> str | None:
    if not info:
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for item in candidates:
        if item.get("raised_exception"):
            message = str(item.get("exception_message") or "GX raised an exception")
            return message.splitlines()[0][:300]
    return None


def _observed(value: Any, details: Any) -> str:
    text = str(_plain(value))
    if isinstance(details, Mapping) and details.get("mismatched"):
        text += f" (mismatched: {_plain(details['mismatched'])})"
    return text[:300]


def _samples(res: Mapping[str, Any], columns: Sequence[str], keys: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """A few unexpected records: their key columns and the offending value(s), distinct, JSON-safe."""
    records = res.get("partial_unexpected_index_list") or []
    samples: list[dict[str, Any]] = []
    if records and isinstance(records[0], Mapping):
        for record in records:
            wanted = [*keys, *(c for c in columns if c not in keys)]
            sample = {c: _plain(record[c]) for c in wanted if c in record}
            if sample not in samples:
                samples.append(sample)
            if len(samples) == SAMPLE_LIMIT:
                break
    else:
        for value in res.get("partial_unexpected_list") or []:
            sample = {columns[0] if columns else "value": _plain(value)}
            if sample not in samples:
                samples.append(sample)
            if len(samples) == SAMPLE_LIMIT:
                break
    return tuple(samples)


def _plain(value: Any) -> Any:
    """JSON-safe: decimals and timestamps (UTC) as text, numpy scalars as Python numbers, NaN/NaT as None."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if _missing(value):
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()  # UTC, whatever the session's zone
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _missing(value: Any) -> bool:
    """NaN, NaT and pd.NA: the values unequal to themselves (pd.NA's comparison is pd.NA, whose truth raises)."""
    if isinstance(value, (str, Decimal, Mapping, list, tuple, set)):
        return False
    try:
        unequal = value != value
    except Exception:  # noqa: BLE001 - an exotic value: not missing, shown as text
        return False
    try:
        return bool(unequal)
    except TypeError:
        return True
    except ValueError:  # an array
        return False


# --- warehouses ----------------------------------------------------------------------------------------------

COLUMNS_SQL = ("select column_name from information_schema.columns where table_schema = {p} and table_name = {p} "
               "order by ordinal_position")


class Warehouse(Protocol):
    def columns(self, ref: TableRef) -> list[str] | None: ...
    def validate(self, suite: Suite, ref: TableRef, columns: Sequence[str],
                 references: Sequence[tuple[Reference, TableRef | None]],
                 parameters: Mapping[str, Any]) -> SuiteResult: ...


class DuckDBWarehouse:
    """A DuckDB connection (read-only is enough): the slice is read into a frame for GX's pandas datasource."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def columns(self, ref: TableRef) -> list[str] | None:
        rows = self.con.execute(COLUMNS_SQL.format(p="?"), [ref.schema, ref.table]).fetchall()
        return [r[0] for r in rows] or None

    def frame(self, ref: TableRef, columns: Sequence[str],
              references: Sequence[tuple[Reference, TableRef | None]] = ()) -> Any:
        sql, params = slice_query(ref, columns, references, placeholder="?")
        return self.con.sql(sql, params=params).to_arrow_table().to_pandas()

    def validate(self, suite: Suite, ref: TableRef, columns: Sequence[str],
                 references: Sequence[tuple[Reference, TableRef | None]],
                 parameters: Mapping[str, Any]) -> SuiteResult:
        return validate_frame(suite, self.frame(ref, columns, references), parameters, table=ref.label)


class PostgresWarehouse:
    """A PostgreSQL database by SQLAlchemy URL (``postgresql+psycopg2://…``): GX's SQL datasource validates a
    query of the slice inside the database."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url = url
        self._engine = sa.create_engine(url, poolclass=sa.NullPool)

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self._engine.connect() as conn:
            cursor = conn.connection.cursor()
            cursor.execute(sql, tuple(params))
            return cursor.fetchall()

    def columns(self, ref: TableRef) -> list[str] | None:
        return [r[0] for r in self._fetch(COLUMNS_SQL.format(p="%s"), [ref.schema, ref.table])] or None

    def validate(self, suite: Suite, ref: TableRef, columns: Sequence[str],
                 references: Sequence[tuple[Reference, TableRef | None]],
                 parameters: Mapping[str, Any]) -> SuiteResult:
        started = time.monotonic()
        where, params = ref.where("", "%s")
        rows = self._fetch(f"select count(*) from {ref.sql_name}{where}", params)[0][0]
        query, _ = slice_query(ref, columns, references, placeholder=None)
        keys = [k for k in suite.key if k in columns]
        gx_engine = engine()
        with _lock:
            source = gx_engine.sql_source(self.url)
            gx_engine.queries += 1
            name = f"q{gx_engine.queries}"
            asset = source.add_query_asset(name, query=query)
            try:
                batch = asset.add_batch_definition_whole_table("whole").get_batch()
                result = batch.validate(gx_engine.suite(suite), expectation_parameters=dict(parameters),
                                        result_format=_result_format(keys))
            finally:
                source.delete_asset(name)
        return _compact(suite, result, rows=rows, keys=keys, started=started, table=ref.label)


def validate_table(suite: Suite, warehouse: Warehouse, ref: TableRef, parameters: Mapping[str, Any]) -> SuiteResult:
    """Validate the slice ``ref`` against ``suite``. References resolve to tables of the same schema and tenant
    slice (``raw_<source>__<tenant>.orders``, or the tenant's rows of ``marts.fct_orders``)."""
    started = time.monotonic()
    present = warehouse.columns(ref)
    if present is None:
        return SuiteResult(suite=suite.name, rows=0, outcomes=(), seconds=time.monotonic() - started,
                           table=ref.label, note="table not landed for this tenant: nothing to check")
    references = []
    for reference in suite.references:
        target = TableRef(ref.schema, reference.table, ref.tenant_id)
        target_columns = warehouse.columns(target) or []
        ok = reference.column in present and reference.key in target_columns
        references.append((reference, target if ok else None))
    # every suite column the table has: one it lacks makes its expectations fail, naming the column
    columns = [c for c in suite.columns if c in present]
    return warehouse.validate(suite, ref, columns, references, parameters)


__all__ = ["DuckDBWarehouse", "Outcome", "PostgresWarehouse", "SuiteResult", "TableRef", "Warehouse", "engine",
           "slice_query", "validate_frame", "validate_table"]
