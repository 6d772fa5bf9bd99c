"""``properties/{id}:runReport``: a RunReportRequest checked the way the Data API checks it, run over a
property's traffic rows, answered as a RunReportResponse (one page of ``limit`` rows from ``offset``).

Supported: ``dateRanges`` (``YYYY-MM-DD``, ``today``, ``yesterday``, ``NdaysAgo``; up to 4, more than one adds
the ``dateRange`` dimension), ``dimensions`` and ``metrics`` (sandbox/ga4/schema.py), ``dimensionFilter``
(``stringFilter`` / ``inListFilter`` with ``andGroup`` / ``orGroup`` / ``notExpression``), ``orderBys``
(dimension with ``orderType``, metric, ``desc``), ``offset`` / ``limit`` (default 10,000, at most 250,000
returned), ``metricAggregations`` (TOTAL, MAXIMUM, MINIMUM), ``keepEmptyRows``, ``returnPropertyQuota``.
A request the API would refuse gets 400 INVALID_ARGUMENT with a message in Google's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from sandbox.ga4.schema import DIMENSIONS, metric

DEFAULT_LIMIT, MAX_LIMIT = 10_000, 250_000
MAX_DIMENSIONS, MAX_METRICS, MAX_DATE_RANGES = 9, 10, 4
SCHEMA_URL = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"
REQUEST_FIELDS = frozenset({
    "property", "dimensions", "metrics", "dateRanges", "dimensionFilter", "metricFilter", "offset", "limit",
    "metricAggregations", "orderBys", "currencyCode", "cohortSpec", "keepEmptyRows", "returnPropertyQuota",
    "comparisons",
})
RELATIVE_DAYS = re.compile(r"^([0-9]+)daysAgo$")
AGGREGATIONS = {"TOTAL": ("totals", "RESERVED_TOTAL"), "MAXIMUM": ("maximums", "RESERVED_MAX"),
                "MINIMUM": ("minimums", "RESERVED_MIN")}


class InvalidArgument(ValueError):
    """The request is refused with HTTP 400 INVALID_ARGUMENT and this message."""


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
    name: str


@dataclass(frozen=True)
class ReportRequest:
    dimensions: list[str]
    metrics: list[str]
    date_ranges: list[DateRange]
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    order_bys: list[dict[str, Any]] = field(default_factory=list)
    dimension_filter: dict[str, Any] | None = None
    aggregations: list[str] = field(default_factory=list)
    keep_empty_rows: bool = False
    return_property_quota: bool = False

    @property
    def output_dimensions(self) -> list[str]:
        return self.dimensions + (["dateRange"] if len(self.date_ranges) > 1 else [])


def parse_request(body: Any, today: date, currency: str) -> ReportRequest:
    """Check a RunReportRequest body; ``today`` is the property's local date at the sandbox clock."""
    if not isinstance(body, dict):
        raise InvalidArgument("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in REQUEST_FIELDS:
            raise InvalidArgument(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
    for unsupported in ("cohortSpec", "comparisons", "metricFilter"):
        if body.get(unsupported):
            raise InvalidArgument(f"{unsupported} is not simulated by the sandbox twin.")
    if body.get("currencyCode") not in (None, "", currency):
        raise InvalidArgument(f"currencyCode {body['currencyCode']} is not simulated by the sandbox twin "
                              f"(the property's currency is {currency}).")
    dimensions = [_name(d, "dimensions") for d in _list(body, "dimensions")]
    metrics = [_name(m, "metrics") for m in _list(body, "metrics")]
    for name in dimensions:
        if name not in DIMENSIONS:
            raise InvalidArgument(f"Field {name} is not a valid dimension. For a list of valid dimensions and "
                                  f"metrics, see {SCHEMA_URL} ")
    for name in metrics:
        if metric(name) is None:
            raise InvalidArgument(f"Field {name} is not a valid metric. For a list of valid dimensions and "
                                  f"metrics, see {SCHEMA_URL} ")
    if not metrics:
        raise InvalidArgument("Requests must have at least one metric.")  # the twin has no dimension-only rows
    if len(dimensions) > MAX_DIMENSIONS or len(metrics) > MAX_METRICS:
        raise InvalidArgument(f"Requests are limited to {MAX_DIMENSIONS} dimensions and {MAX_METRICS} metrics.")
    for names, what in ((dimensions, "dimension"), (metrics, "metric")):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidArgument(f"Duplicate {what} names are not allowed: {', '.join(duplicates)}.")
    ranges = _date_ranges(_list(body, "dateRanges"), today)
    offset, limit = _int64(body.get("offset", 0), "offset"), _int64(body.get("limit", 0), "limit")
    if offset < 0:
        raise InvalidArgument("offset must be non-negative.")
    if limit < 0:
        raise InvalidArgument("limit must be positive.")
    aggregations = [str(a) for a in body.get("metricAggregations") or []]
    for aggregation in aggregations:
        if aggregation not in AGGREGATIONS:
            raise InvalidArgument(f"metricAggregations value {aggregation} is not supported by the sandbox twin "
                                  "(TOTAL, MAXIMUM, MINIMUM).")
    order_bys = list(body.get("orderBys") or [])
    for order in order_bys:
        _check_order(order, dimensions, metrics)
    if body.get("dimensionFilter") is not None:
        _check_filter(body["dimensionFilter"], dimensions)
    return ReportRequest(dimensions, metrics, ranges, offset, min(limit or DEFAULT_LIMIT, MAX_LIMIT), order_bys,
                         body.get("dimensionFilter"), aggregations, bool(body.get("keepEmptyRows", False)),
                         bool(body.get("returnPropertyQuota", False)))


def run_report(request: ReportRequest, rows: pl.DataFrame,
               entries: list[tuple[tuple[str, ...], list[int]]] | None = None) -> tuple[dict[str, Any], int, int]:
    """(the response body without metadata/quota, rows in this page, total rows) of ``request`` over ``rows``
    (the property's traffic at date × source × medium × campaign grain, ROW_SCHEMA). ``entries`` are the
    report's ordered rows from :func:`report_entries` when the caller cached them (paging)."""
    columns = [metric(m)[2] for m in request.metrics]
    entries = report_entries(request, rows) if entries is None else entries
    page = entries[request.offset:request.offset + request.limit]
    body: dict[str, Any] = {
        "dimensionHeaders": [{"name": d} for d in request.output_dimensions],
        "metricHeaders": [{"name": m, "type": metric(m)[1]} for m in request.metrics],
    }
    if page:
        body["rows"] = [_row(values, sums, request) for values, sums in page]
    for aggregation in request.aggregations:
        key, label = AGGREGATIONS[aggregation]
        if not entries:
            continue
        fn = {"TOTAL": sum, "MAXIMUM": max, "MINIMUM": min}[aggregation]
        sums = [fn(v[j] for _, v in entries) for j in range(len(columns))]
        body[key] = [_row([label] * len(request.output_dimensions), sums, request)]
    if entries:
        body["rowCount"] = len(entries)  # proto3 JSON leaves a zero count (and empty rows) out
    return body, len(page), len(entries)


def report_entries(request: ReportRequest, rows: pl.DataFrame) -> list[tuple[tuple[str, ...], list[int]]]:
    """The report's rows in order, before paging: (dimension values, metric sums)."""
    columns = [metric(m)[2] for m in request.metrics]
    table: dict[tuple[str, ...], list[int]] = {}
    for i, window in enumerate(request.date_ranges):
        selected = rows.filter((pl.col("date") >= window.start) & (pl.col("date") <= window.end))
        for row in selected.iter_rows(named=True):
            values = [DIMENSIONS[d][1](row) for d in request.dimensions]
            if len(request.date_ranges) > 1:
                values.append(window.name or f"date_range_{i}")
            named = dict(zip(request.dimensions, values, strict=False))  # without the dateRange column
            if request.dimension_filter is not None and not _matches(request.dimension_filter, named):
                continue
            sums = table.setdefault(tuple(values), [0] * len(columns))
            for j, column in enumerate(columns):
                sums[j] += row[column]
    entries = [(k, v) for k, v in table.items() if request.keep_empty_rows or any(v)]
    return _ordered(entries, request)


def money_text(cents: int) -> str:
    """Cents as GA4 prints a currency metric (a double): ``123.45``, ``12.3``, ``40``, ``0``."""
    whole, part = divmod(abs(int(cents)), 100)
    text = f"{whole}.{part:02d}".rstrip("0").rstrip(".")
    return f"-{text}" if cents < 0 else text


def _row(values: list[str] | tuple[str, ...], sums: list[int], request: ReportRequest) -> dict[str, Any]:
    metric_values = []
    for name, total in zip(request.metrics, sums, strict=True):
        metric_values.append({"value": money_text(total) if metric(name)[1] == "TYPE_CURRENCY" else str(total)})
    return {"dimensionValues": [{"value": v} for v in values], "metricValues": metric_values}


def _ordered(entries: list, request: ReportRequest) -> list:
    """Stable sorts, last key first; without orderBys the first metric descending, ties by dimension values
    (GA4 leaves the order unspecified, so paging needs orderBys to be stable there)."""
    entries = sorted(entries, key=lambda e: e[0])
    orders = request.order_bys or [{"metric": {"metricName": request.metrics[0]}, "desc": True}]
    for order in reversed(orders):
        desc = bool(order.get("desc", False))
        if "metric" in order:
            j = request.metrics.index(order["metric"]["metricName"])
            entries.sort(key=lambda e, j=j: e[1][j], reverse=desc)
        else:
            spec = order["dimension"]
            i = request.output_dimensions.index(spec["dimensionName"])
            kind = spec.get("orderType", "ALPHANUMERIC")
            entries.sort(key=lambda e, i=i, kind=kind: _dimension_key(e[0][i], kind), reverse=desc)
    return entries


def _dimension_key(value: str, kind: str) -> Any:
    if kind == "CASE_INSENSITIVE_ALPHANUMERIC":
        return value.lower()
    if kind == "NUMERIC":
        try:
            return (0, float(value))
        except ValueError:
            return (1, 0.0)
    return value


def _check_order(order: Any, dimensions: list[str], metrics: list[str]) -> None:
    if not isinstance(order, dict) or ("metric" in order) == ("dimension" in order):
        raise InvalidArgument("Each orderBy must set exactly one of metric, dimension.")
    if "metric" in order:
        name = (order["metric"] or {}).get("metricName")
        if name not in metrics:
            raise InvalidArgument(f"orderBys metricName {name} must be a metric in the request.")
    else:
        spec = order["dimension"] or {}
        name = spec.get("dimensionName")
        if name not in dimensions and name != "dateRange":
            raise InvalidArgument(f"orderBys dimensionName {name} must be a dimension in the request.")
        if spec.get("orderType", "ALPHANUMERIC") not in ("ORDER_TYPE_UNSPECIFIED", "ALPHANUMERIC",
                                                         "CASE_INSENSITIVE_ALPHANUMERIC", "NUMERIC"):
            raise InvalidArgument(f"Invalid value at 'order_bys.dimension.order_type' ({spec.get('orderType')})")


def _check_filter(expression: Any, dimensions: list[str]) -> None:
    if not isinstance(expression, dict) or len(expression) != 1:
        raise InvalidArgument("A FilterExpression must set exactly one of andGroup, orGroup, notExpression, filter.")
    (kind, value), = expression.items()
    if kind in ("andGroup", "orGroup"):
        for child in (value or {}).get("expressions") or []:
            _check_filter(child, dimensions)
    elif kind == "notExpression":
        _check_filter(value, dimensions)
    elif kind == "filter":
        name = (value or {}).get("fieldName")
        if name not in DIMENSIONS:
            raise InvalidArgument(f"Field {name} is not a valid dimension. For a list of valid dimensions and "
                                  f"metrics, see {SCHEMA_URL} ")
        if name not in dimensions:
            raise InvalidArgument(f"The dimension filter field {name} must be a dimension in the request "
                                  "(sandbox twin limitation).")
        if not {"stringFilter", "inListFilter"} & set(value):
            raise InvalidArgument("Only stringFilter and inListFilter are simulated by the sandbox twin.")
    else:
        raise InvalidArgument(f'Invalid JSON payload received. Unknown name "{kind}" at \'dimension_filter\': '
                              "Cannot find field.")


def _matches(expression: dict[str, Any], values: dict[str, str]) -> bool:
    (kind, value), = expression.items()
    if kind == "andGroup":
        return all(_matches(e, values) for e in value.get("expressions") or [])
    if kind == "orGroup":
        return any(_matches(e, values) for e in value.get("expressions") or [])
    if kind == "notExpression":
        return not _matches(value, values)
    text = values[value["fieldName"]]
    if "inListFilter" in value:
        spec = value["inListFilter"]
        sensitive = spec.get("caseSensitive", False)
        wanted = spec.get("values") or []
        return text in wanted if sensitive else text.lower() in {w.lower() for w in wanted}
    spec = value["stringFilter"]
    wanted, match = str(spec.get("value", "")), spec.get("matchType", "EXACT")
    if not spec.get("caseSensitive", False):
        text, wanted = text.lower(), wanted.lower()
    if match in ("EXACT", "MATCH_TYPE_UNSPECIFIED"):
        return text == wanted
    if match == "BEGINS_WITH":
        return text.startswith(wanted)
    if match == "ENDS_WITH":
        return text.endswith(wanted)
    if match == "CONTAINS":
        return wanted in text
    if match == "FULL_REGEXP":
        return re.fullmatch(wanted, text) is not None
    if match == "PARTIAL_REGEXP":
        return re.search(wanted, text) is not None
    raise InvalidArgument(f"Invalid value at 'dimension_filter.filter.string_filter.match_type' ({match})")


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise InvalidArgument(f"Invalid value at '{name}': expected a list.")
    return value


def _name(entry: Any, what: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise InvalidArgument(f"Each of {what} must have a name.")
    return entry["name"]


def _int64(value: Any, name: str) -> int:
    """An int64 field: JSON numbers or decimal strings (proto3 JSON mapping)."""
    if isinstance(value, bool):
        raise InvalidArgument(f"Invalid value at '{name}' (TYPE_INT64), {str(value).lower()}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f'Invalid value at \'{name}\' (TYPE_INT64), "{value}"') from None
    if isinstance(value, float) and value != number:
        raise InvalidArgument(f"Invalid value at '{name}' (TYPE_INT64), {value}")
    return number


def _date_ranges(entries: list[Any], today: date) -> list[DateRange]:
    if not entries:
        raise InvalidArgument("Must specify at least one date range.")
    if len(entries) > MAX_DATE_RANGES:
        raise InvalidArgument(f"Requests are limited to {MAX_DATE_RANGES} dateRanges.")
    ranges = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidArgument("Each dateRange must be an object with startDate and endDate.")
        start = _date(entry.get("startDate"), today, "startDate")
        end = _date(entry.get("endDate"), today, "endDate")
        if start > end:
            raise InvalidArgument(f"Invalid date range: startDate {start.isoformat()} is after endDate "
                                  f"{end.isoformat()}.")
        name = str(entry.get("name") or "")
        if name.startswith(("date_range_", "RESERVED_")):
            raise InvalidArgument(f"dateRange name {name} must not begin with date_range_ or RESERVED_.")
        ranges.append(DateRange(start, end, name))
    return ranges


def _date(value: Any, today: date, name: str) -> date:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"A dateRange must set {name}.")
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    relative = RELATIVE_DAYS.match(value)
    if relative:
        return today - timedelta(days=int(relative.group(1)))
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"Invalid {name} '{value}': dates are YYYY-MM-DD, NdaysAgo, yesterday or today."
                              ) from None
