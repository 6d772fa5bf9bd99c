"""The Reports API 2021-06-30 of the Amazon twin: report jobs, their processing states and their documents.

Only ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA`` (the FBA customer returns report) is produced. A report is
cut when it is created (the sandbox clock then is its "now"): the FBA returns whose ``return-date`` lies in
[dataStartTime, dataEndTime]. ``getReport`` walks it through ``IN_QUEUE`` → ``IN_PROGRESS`` → its outcome, one
state per poll (``ReportPlan.polls`` non-final answers first, 2 by default): ``DONE`` with a
``reportDocumentId``, ``CANCELLED`` when there is no data (as Amazon cancels an empty report), or ``FATAL``
when a test planned it (``POST /_sandbox/amazon/reports``). The document is the report's tab-separated flat
file with Amazon's header, GZIP-compressed, behind a pre-signed-looking URL that the sandbox serves without any
SP-API header (it stands for Amazon's S3 URL, valid 5 minutes).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

RETURNS_REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
RETURNS_HEADER = ("return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity",
                  "fulfillment-center-id", "detailed-disposition", "reason", "status", "license-plate-number",
                  "customer-comments")
FULFILLMENT_CENTERS = ("PHX7", "ONT8", "BFI4", "MDW2", "CLT2", "TPA1", "SDF8", "AVP1")
STATUS_BY_DISPOSITION = {"SELLABLE": "Unit returned to inventory", "CARRIER_DAMAGED": "Reimbursed"}
DEFAULT_STATUS = "Unit returned to inventory"
COMMENTS = {"DEFECTIVE": "Stopped working after a few days", "NOT_AS_DESCRIBED": "Not what the picture showed",
            "DAMAGED_BY_CARRIER": "Box arrived crushed", "QUALITY_UNACCEPTABLE": "Feels cheap"}
URL_TTL_S = 300  # Amazon's pre-signed document URLs expire after 5 minutes
OUTCOMES = ("DONE", "FATAL")
_SIGNING_KEY = b"omni-sandbox-report-documents"  # signs the sandbox's document URLs (not a secret of anyone)


@dataclass(frozen=True)
class ReportPlan:
    """How a shop's next report runs: ``polls`` non-final answers (IN_QUEUE, then IN_PROGRESS), then
    ``outcome`` (DONE — or CANCELLED when there is no data — or FATAL)."""

    outcome: str = "DONE"
    polls: int = 2

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if self.polls < 0:
            raise ValueError("polls must be ≥ 0")


@dataclass
class ReportJob:
    report_id: str
    shop: str
    report_type: str
    marketplace_ids: list[str]
    data_start: datetime
    data_end: datetime
    created: datetime
    plan: ReportPlan
    content: bytes | None  # the flat file (None: no data)
    polls: int = 0
    document_id: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


def iso_ms(moment: datetime) -> str:
    """The Reports API's timestamps: ISO 8601 in UTC with milliseconds (2024-03-11T13:47:20.677Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def report_date(moment: datetime) -> str:
    """The flat file's return-date: 2025-01-09T19:45:06+00:00."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def license_plate(return_id: int) -> str:
    return f"LPNR{(return_id * 2_654_435_761) % 10**10:010d}"


def returns_flat_file(rows: pl.DataFrame, order_id, asin: dict[str, str], fn_sku, title: dict[str, str]) -> bytes:
    """The FBA customer returns report as Amazon writes it: a header line, then one tab-separated line per
    returned unit group (UTF-8, LF line ends)."""
    lines = ["\t".join(RETURNS_HEADER)]
    for r in rows.iter_rows(named=True):
        cells = [
            report_date(r["returned_at"]), order_id(r["order_id"]), r["sku"], asin[r["sku"]], fn_sku(r["sku"]),
            title[r["sku"]], str(r["quantity"]), FULFILLMENT_CENTERS[r["line_id"] % len(FULFILLMENT_CENTERS)],
            r["disposition"], r["reason"], STATUS_BY_DISPOSITION.get(r["disposition"], DEFAULT_STATUS),
            license_plate(r["return_id"]), COMMENTS.get(r["reason"], "") if r["return_id"] % 3 else "",
        ]
        lines.append("\t".join(c.replace("\t", " ") for c in cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


class ReportBook:
    """Every report job and document of the twin, and the plans tests queued per shop (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, ReportJob] = {}
        self._documents: dict[str, tuple[str, bytes]] = {}  # document id → (shop, gzip bytes)
        self._plans: dict[str, deque[ReportPlan]] = {}
        self._ids = itertools.count(50_000_019_000)
        self.created: dict[str, int] = {}

    def queue(self, shop: str, plan: ReportPlan, count: int) -> None:
        with self._lock:
            self._plans.setdefault(shop, deque()).extend([plan] * count)

    def clear_plans(self) -> None:
        with self._lock:
            self._plans.clear()

    def create(self, shop: str, report_type: str, marketplace_ids: list[str], start: datetime, end: datetime,
               created: datetime, content: bytes | None) -> ReportJob:
        with self._lock:
            plans = self._plans.get(shop)
            plan = plans.popleft() if plans else ReportPlan()
            job = ReportJob(str(next(self._ids)), shop, report_type, marketplace_ids, start, end, created, plan,
                            content)
            self._jobs[job.report_id] = job
            self.created[shop] = self.created.get(shop, 0) + 1
            return job

    def poll(self, shop: str, report_id: str) -> dict[str, Any]:
        """The report as getReport shows it now; each call moves it one state on."""
        with self._lock:
            job = self._jobs.get(report_id)
            if job is None or job.shop != shop:
                raise LookupError(f"Report {report_id} not found.")
            job.polls += 1
            body: dict[str, Any] = {
                "reportType": job.report_type, "reportId": job.report_id,
                "dataStartTime": iso_ms(job.data_start), "dataEndTime": iso_ms(job.data_end),
                "marketplaceIds": job.marketplace_ids, "createdTime": iso_ms(job.created),
            }
            step = job.polls
            if step <= job.plan.polls:
                body["processingStatus"] = "IN_QUEUE" if step <= job.plan.polls // 2 else "IN_PROGRESS"
                if body["processingStatus"] == "IN_PROGRESS":
                    body["processingStartTime"] = iso_ms(job.created)
                return body
            body["processingStartTime"] = body["processingEndTime"] = iso_ms(job.created)
            if job.plan.outcome == "FATAL":
                body["processingStatus"] = "FATAL"
                content = b'{"errorDetails": "The report could not be generated (sandbox: planned FATAL)."}'
            elif job.content is None:
                body["processingStatus"] = "CANCELLED"
                return body
            else:
                body["processingStatus"] = "DONE"
                content = job.content
            if job.document_id is None:
                job.document_id = f"amzn1.spdoc.1.4.na.{hashlib.sha256(job.report_id.encode()).hexdigest()[:36]}"
                self._documents[job.document_id] = (shop, gzip.compress(content, mtime=0))
            body["reportDocumentId"] = job.document_id
            return body

    def document(self, shop: str, document_id: str) -> bytes:
        with self._lock:
            found = self._documents.get(document_id)
        if found is None or found[0] != shop:
            raise LookupError(f"Report document {document_id} not found.")
        return found[1]

    def download(self, document_id: str) -> bytes | None:
        with self._lock:
            found = self._documents.get(document_id)
        return None if found is None else found[1]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"reports_created": dict(self.created), "documents": len(self._documents)}


def signed_query(document_id: str, now: float | None = None) -> str:
    """The query string of a document URL: X-Amz-Date (epoch s), X-Amz-Expires, X-Amz-Signature."""
    issued = int(time.time() if now is None else now)
    return f"X-Amz-Date={issued}&X-Amz-Expires={URL_TTL_S}&X-Amz-Signature={_signature(document_id, issued)}"


def check_signature(document_id: str, issued: str | None, signature: str | None,
                    now: float | None = None) -> str | None:
    """Why a document URL is refused (S3's AccessDenied message), or None when it is valid and fresh."""
    if not issued or not issued.isdigit() or not signature:
        return "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
    if not hmac.compare_digest(signature, _signature(document_id, int(issued))):
        return "The request signature we calculated does not match the signature you provided."
    if (time.time() if now is None else now) > int(issued) + URL_TTL_S:
        return "Request has expired"
    return None


def _signature(document_id: str, issued: int) -> str:
    return hmac.new(_SIGNING_KEY, f"{document_id}:{issued}".encode(), hashlib.sha256).hexdigest()
