"""The Reports API 2021-06-30 flow of the Amazon source, and the FBA customer returns report → Arrow.

``request_report`` runs one report end to end: ``createReport`` → ``getReport`` polled with a bounded, growing
wait (``REPORT_POLL_WAITS_S``, at most ``MAX_REPORT_WAIT_S`` in all, every wait through the injectable sleep)
until ``DONE`` / ``CANCELLED`` / ``FATAL`` → ``getReportDocument`` → the document downloaded from its
pre-signed URL (no SP-API header: it is an S3 URL) and decompressed when ``compressionAlgorithm`` is ``GZIP``.
``returns_table`` parses the tab-separated flat file with exact types: ``quantity`` int64, ``return_date`` a
UTC timestamp.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import requests

from .helpers import AmazonAPIError, SellingPartnerClient
from .settings import MAX_REPORT_WAIT_S, REPORT_POLL_WAITS_S

log = logging.getLogger("sources.amazon")

RETURNS_REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
REPORTS = "/reports/2021-06-30"
# flat-file column → landed column
RETURNS_COLUMNS = {
    "return-date": "return_date", "order-id": "amazon_order_id", "sku": "sku", "asin": "asin", "fnsku": "fnsku",
    "product-name": "product_name", "quantity": "quantity", "fulfillment-center-id": "fulfillment_center_id",
    "detailed-disposition": "detailed_disposition", "reason": "reason", "status": "status",
    "license-plate-number": "license_plate_number", "customer-comments": "customer_comments",
}
REQUIRED = ("return-date", "order-id", "sku", "quantity")


@dataclass(frozen=True)
class Report:
    """A finished report: its id, status (DONE or CANCELLED), the data range Amazon applied, the document."""

    report_id: str
    status: str
    data_start: str
    data_end: str
    content: bytes | None


def request_report(client: SellingPartnerClient, report_type: str, data_start: str, data_end: str | None,
                   sleep: Callable[[float], None], session: requests.Session, *,
                   poll_waits_s: tuple[float, ...] = REPORT_POLL_WAITS_S,
                   max_wait_s: float = MAX_REPORT_WAIT_S) -> Report:
    """Create a report for [data_start, data_end] (``None``: Amazon's now), wait for it (``poll_waits_s`` between
    polls, the last one repeated, never more than ``max_wait_s`` in all), download it."""
    if not poll_waits_s or any(w <= 0 for w in poll_waits_s) or max_wait_s <= 0:
        raise ValueError("amazon: report poll waits and the maximum wait must be positive")
    spec: dict[str, Any] = {"reportType": report_type, "marketplaceIds": [client.marketplace_id],
                            "dataStartTime": data_start}
    if data_end is not None:
        spec["dataEndTime"] = data_end
    report_id = str(client.call("POST", "createReport", f"{REPORTS}/reports", body=spec)["reportId"])
    waited, polls = 0.0, 0
    while True:
        report = client.get("getReport", f"{REPORTS}/reports/{report_id}")
        status = report.get("processingStatus")
        if status in ("DONE", "CANCELLED", "FATAL"):
            break
        wait = poll_waits_s[min(polls, len(poll_waits_s) - 1)]
        if waited + wait > max_wait_s:
            raise AmazonAPIError(f"amazon getReport ({REPORTS}/reports/{report_id}): {report_type} still {status} "
                                 f"after {polls + 1} polls over {waited:.0f} s (limit {max_wait_s:.0f} s)")
        log.info("amazon report %s (%s): %s, polling again in %.0fs", report_id, report_type, status, wait)
        sleep(wait)
        waited, polls = waited + wait, polls + 1
    if status == "FATAL":
        raise AmazonAPIError(f"amazon getReport ({REPORTS}/reports/{report_id}): {report_type} for "
                             f"{report.get('dataStartTime')}..{report.get('dataEndTime')} ended FATAL "
                             f"(document {report.get('reportDocumentId') or 'none'} holds Amazon's error details)")
    content = None
    if status == "DONE":
        document_id = report["reportDocumentId"]
        document = client.get("getReportDocument", f"{REPORTS}/documents/{document_id}")
        content = _download(session, document, report_id)
    return Report(report_id, status, str(report.get("dataStartTime") or data_start),
                  str(report.get("dataEndTime") or data_end or ""), content)


def _download(session: requests.Session, document: dict[str, Any], report_id: str) -> bytes:
    response = session.get(document["url"], headers={"Accept": "*/*"})  # pre-signed: no SP-API token
    if response.status_code != 200:
        reason = response.text[:200].replace("\n", " ")
        raise AmazonAPIError(f"amazon report {report_id}: downloading document {document.get('reportDocumentId')} "
                             f"refused (HTTP {response.status_code} {reason})")
    data = response.content
    if str(document.get("compressionAlgorithm") or "").upper() == "GZIP":
        data = gzip.decompress(data)
    return data


def returns_table(content: bytes | None, report_id: str) -> pa.Table:
    """The FBA customer returns flat file → typed rows keyed by ``return_key``
    (order/sku/return-date/license plate, stable across reports that overlap)."""
    rows: list[dict[str, Any]] = []
    if content:
        text = _decode(content)
        lines = [line.rstrip("\r") for line in text.split("\n")]
        header = lines[0].split("\t") if lines else []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise AmazonAPIError(f"amazon report {report_id} ({RETURNS_REPORT}): the flat file lacks column(s) "
                                 f"{', '.join(missing)}")
        index = {name: i for i, name in enumerate(header)}
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            cells = line.split("\t")
            raw = {name: (cells[i].strip() if i < len(cells) else "") for name, i in index.items()}
            row = {column: (raw.get(name) or None) for name, column in RETURNS_COLUMNS.items()}
            try:
                row["return_date"] = _utc(raw["return-date"])
                row["quantity"] = int(raw["quantity"])
            except ValueError as exc:
                raise AmazonAPIError(f"amazon report {report_id} ({RETURNS_REPORT}) line {number}: {exc}") from None
            row["return_key"] = "/".join((row["amazon_order_id"] or "", row["sku"] or "",
                                          row["return_date"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                          row["license_plate_number"] or ""))
            row["report_id"] = report_id
            rows.append(row)
    arrays = [pa.array([r[name] for r in rows], dtype) for name, dtype in RETURNS_SCHEMA.items()]
    fields = [pa.field(n, t, nullable=n != "return_key") for n, t in RETURNS_SCHEMA.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _decode(content: bytes) -> str:
    """Amazon writes flat files in UTF-8 in most marketplaces, Cp1252 in some older ones."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _utc(text: str) -> datetime:
    """A return-date (2025-01-09T19:45:06+00:00, …Z, or with another offset) → aware UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


S = pa.string()
RETURNS_SCHEMA: dict[str, pa.DataType] = {
    "return_key": S, "return_date": pa.timestamp("us", tz="UTC"), "amazon_order_id": S, "sku": S, "asin": S,
    "fnsku": S, "product_name": S, "quantity": pa.int64(), "fulfillment_center_id": S, "detailed_disposition": S,
    "reason": S, "status": S, "license_plate_number": S, "customer_comments": S, "report_id": S,
}
