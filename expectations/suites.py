"""The suites as data: one YAML file per guarded table, in Great Expectations' own vocabulary.

``suites/raw/<source>/<table>.yaml`` guards a raw landing (``raw_<source>__<tenant>.<table>``) and
``suites/marts/<model>.yaml`` a mart (the tenant's slice of ``marts.<model>``); the path is the Dagster asset
key the suite is checked on (``raw/shopify/orders``, ``marts/fct_orders``), the same key the translators give.

A file holds::

    description: what the suite guards and why          (shown in the Dagster UI)
    key: [order_id]                                      (columns naming a record in failure samples)
    blocking: true                                       (a critical failure stops the tenant's downstream assets)
    references:                                          (optional: referential integrity)
      order_in_orders: {column: order_id, table: orders, key: order_id}
                                                         (a column ``order_in_orders`` holding order_id where the
                                                          same tenant slice of ``orders`` has that order_id, else
                                                          null; joined in the database, checked with
                                                          expect_column_pair_values_to_be_equal)
    expectations:                                        (GX 1.x expectation configurations)
      - type: expect_column_values_to_be_in_set
        kwargs: {column: currency, value_set: {$PARAMETER: order_currencies}}
        severity: critical                               (critical | warning | info; GX's FailureSeverity)
        description: the order currency is the tenant's (optional; names the business rule)

Loading is pure Python (no GX import, so Dagster definitions load fast) and strict: an unknown key, a
parameter nobody provides or a malformed expectation is an error naming the file. GX itself checks each
configuration when a suite first runs; ``tests/quality`` builds every suite with GX so typos fail in CI.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SEVERITIES = ("critical", "warning", "info")
PARAMETER = "$PARAMETER"
# kwargs that name the columns an expectation reads (the runner reads only those columns of a table)
COLUMN_KWARGS = ("column", "column_A", "column_B")
COLUMN_LIST_KWARGS = ("column_list", "column_set")
SUITE_KEYS = {"description", "key", "blocking", "references", "expectations"}
EXPECTATION_KEYS = {"type", "kwargs", "severity", "description", "meta", "notes"}


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Reference:
    """Referential integrity as a column: ``name`` holds ``column``'s value where ``table.key`` (the same tenant
    slice) has it, else null. The runner left-joins the distinct keys, in the database."""

    name: str
    column: str
    table: str
    key: str


@dataclass(frozen=True)
class ExpectationSpec:
    type: str
    kwargs: Mapping[str, Any]
    severity: str = "critical"
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    notes: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        cols = [self.kwargs[k] for k in COLUMN_KWARGS if isinstance(self.kwargs.get(k), str)]
        for k in COLUMN_LIST_KWARGS:
            if isinstance(self.kwargs.get(k), list):
                cols += self.kwargs[k]
        return tuple(dict.fromkeys(cols))

    @property
    def rule(self) -> str:
        """A short stable name: the expectation type and the columns it is about."""
        cols = self.columns if len(self.columns) <= 3 else (*self.columns[:3], "…")
        return f"{self.type}({', '.join(cols)})"

    @property
    def parameters(self) -> set[str]:
        return set(_parameters_in(self.kwargs))


@dataclass(frozen=True)
class Suite:
    asset_path: tuple[str, ...]  # ("raw", "shopify", "orders") or ("marts", "fct_orders")
    path: Path
    description: str
    key: tuple[str, ...]
    blocking: bool
    references: tuple[Reference, ...]
    expectations: tuple[ExpectationSpec, ...]

    @property
    def name(self) -> str:
        return "/".join(self.asset_path)

    @property
    def layer(self) -> str:
        return self.asset_path[0]

    @property
    def table(self) -> str:
        return self.asset_path[-1]

    @property
    def source(self) -> str | None:
        """The raw source a landing suite guards (None for a mart)."""
        return self.asset_path[1] if self.layer == "raw" else None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the suite reads from its table: its key and the columns of its expectations (without
        the reference columns, which the runner joins in)."""
        cols = [*self.key, *(r.column for r in self.references)]
        for exp in self.expectations:
            cols += exp.columns
        virtual = {r.name for r in self.references}
        return tuple(c for c in dict.fromkeys(cols) if c not in virtual)

    @property
    def parameters(self) -> set[str]:
        return set().union(*(e.parameters for e in self.expectations)) if self.expectations else set()


def _parameters_in(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        if set(value) == {PARAMETER}:
            yield str(value[PARAMETER])
            return
        for inner in value.values():
            yield from _parameters_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _parameters_in(inner)


def load_suite(path: Path, *, known_parameters: set[str], root: Path = SUITES_DIR) -> Suite:
    rel = path.relative_to(root)
    asset_path = (*rel.parent.parts, rel.stem)
    where = f"{path}"
    if asset_path[0] not in ("raw", "marts") or len(asset_path) != (3 if asset_path[0] == "raw" else 2):
        raise SuiteError(f"{where}: suites live at raw/<source>/<table>.yaml or marts/<model>.yaml")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SuiteError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: expected a mapping")
    if unknown := set(raw) - SUITE_KEYS:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(SUITE_KEYS)}")
    key = raw.get("key")
    if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
        raise SuiteError(f"{where}: 'key' must be a non-empty list of column names")
    blocking = raw.get("blocking", True)
    if not isinstance(blocking, bool):
        raise SuiteError(f"{where}: 'blocking' must be true or false")
    references = []
    for name, spec in (raw.get("references") or {}).items():
        if not isinstance(spec, dict) or set(spec) != {"column", "table", "key"}:
            raise SuiteError(f"{where}: reference {name!r} must be {{column: <column>, table: <table>, key: <column>}}")
        references.append(Reference(name=str(name), column=str(spec["column"]), table=str(spec["table"]),
                                    key=str(spec["key"])))
    entries = raw.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(f"{where}: 'expectations' must be a non-empty list")
    expectations = []
    for index, entry in enumerate(entries, start=1):
        label = f"{where}: expectation #{index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise SuiteError(f"{label}: needs a 'type' (e.g. expect_column_values_to_not_be_null)")
        if unknown := set(entry) - EXPECTATION_KEYS:
            raise SuiteError(f"{label} ({entry['type']}): unknown keys {sorted(unknown)}")
        if not entry["type"].startswith("expect_"):
            raise SuiteError(f"{label}: {entry['type']!r} is not a GX expectation type")
        kwargs = entry.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise SuiteError(f"{label} ({entry['type']}): 'kwargs' must be a mapping")
        severity = entry.get("severity", "critical")
        if severity not in SEVERITIES:
            raise SuiteError(f"{label} ({entry['type']}): severity {severity!r} is not one of {SEVERITIES}")
        exp = ExpectationSpec(type=entry["type"], kwargs=kwargs, severity=severity,
                              description=str(entry.get("description") or ""), meta=entry.get("meta") or {},
                              notes=entry.get("notes"))
        if missing := exp.parameters - known_parameters:
            raise SuiteError(f"{label} ({exp.rule}): unknown parameter(s) {sorted(missing)}; "
                             f"known: {sorted(known_parameters)}")
        expectations.append(exp)
    return Suite(asset_path=asset_path, path=path, description=str(raw.get("description") or "").strip(),
                 key=tuple(key), blocking=blocking, references=tuple(references),
                 expectations=tuple(expectations))


def load_suites(root: Path | str = SUITES_DIR) -> tuple[Suite, ...]:
    """Every suite under ``root`` (sorted by asset path)."""
    from expectations.parameters import PARAMETER_NAMES

    root = Path(root)
    return tuple(load_suite(p, known_parameters=PARAMETER_NAMES, root=root)
                 for p in sorted(root.rglob("*.yaml")) if p.parent != root)


@cache
def default_suites() -> tuple[Suite, ...]:
    """The shipped suites, loaded once per process."""
    return load_suites(SUITES_DIR)
