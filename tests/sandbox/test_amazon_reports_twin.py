"""The Amazon twin's Reports API 2021-06-30 over real HTTP: createReport → getReport (IN_QUEUE → IN_PROGRESS →
DONE / CANCELLED / FATAL) → getReportDocument → the pre-signed GZIP flat file of the FBA customer returns report,
its usage plans and error bodies. Every number comes from the world's return records."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import simulate_marketplace
from sandbox.world.marketplace_returns import simulate_returns

US = "ATVPDKIKX0DER"
REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
HEADER = ["return-date", "order-id", "sku", "asin", "fnsku", "product-name", "quantity", "fulfillment-center-id",
          "detailed-disposition", "reason", "status", "license-plate-number", "customer-comments"]
CLIENT = {"client_id": "amzn1.application-oa2-client.sandbox", "client_secret": "amzn1.oa2-cs.v1.sandbox"}
SPEC = WorldSpec(seed=11, start_date=date(2025, 1, 1), days=80, shops=[
    ShopSpec(handle="acme", name="Acme", currency="USD", timezone="America/New_York", access_token="shpat_acme",
             orders_per_day=4, n_products=10, channels={"amazon": {"orders_per_day": 4, "return_rate": 0.15}}),
    ShopSpec(handle="brezel", name="Brezel", currency="EUR", timezone="Europe/Berlin", access_token="shpat_brezel",
             orders_per_day=3, n_products=8, channels={"amazon": {"orders_per_day": 2}}),
])
AFTER_END = SPEC.end + timedelta(hours=1)
SP = "/amazon/sp/reports/2021-06-30"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SPEC, port=0) as running:
        yield running


@pytest.fixture(scope="module")
def fba_returns():
    market = simulate_marketplace(SPEC, build_world(SPEC).shop("acme"), "amazon", SPEC.shop("acme").channels["amazon"])
    return simulate_returns(SPEC, market).filter(pl.col("fulfilled_by_marketplace"))


@pytest.fixture(autouse=True)
def fresh(server):
    admin(server, "DELETE", "faults")
    requests.delete(f"{server.base_url}/_sandbox/amazon/reports", timeout=10).raise_for_status()
    admin(server, "POST", "clock", as_of=AFTER_END.isoformat())
    admin(server, "POST", "ratelimit", api="amazon", rate=1000, burst=1000)


def admin(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def token(server, handle: str = "acme") -> str:
    form = {"grant_type": "refresh_token", "refresh_token": f"Atzr|sandbox-{handle}", **CLIENT}
    return requests.post(f"{server.base_url}/amazon/auth/o2/token", data=form, timeout=10).json()["access_token"]


def create(server, access: str, **spec) -> requests.Response:
    body = {"reportType": REPORT, "marketplaceIds": [US], **spec}
    return requests.post(f"{server.base_url}{SP}/reports", json=body, headers={"x-amz-access-token": access},
                         timeout=10)


def get(server, access: str, path: str) -> requests.Response:
    return requests.get(f"{server.base_url}{SP}{path}", headers={"x-amz-access-token": access}, timeout=10)


def poll_until_final(server, access: str, report_id: str) -> tuple[dict, list[str]]:
    statuses = []
    for _ in range(10):  # bounded: the twin finishes after two non-final answers
        report = get(server, access, f"/reports/{report_id}").json()
        statuses.append(report["processingStatus"])
        if report["processingStatus"] in ("DONE", "CANCELLED", "FATAL"):
            return report, statuses
    raise AssertionError(f"report {report_id} never finished: {statuses}")


def test_a_report_runs_its_states_and_its_document_is_the_worlds_returns(server, fba_returns):
    access = token(server)
    start, end = datetime(2025, 1, 15, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC)
    created = create(server, access, dataStartTime="2025-01-15T00:00:00Z", dataEndTime="2025-03-01T00:00:00.000Z")
    assert created.status_code == 202 and set(created.json()) == {"reportId"}
    assert created.headers["x-amzn-RateLimit-Limit"] == "1000" and created.headers["x-amzn-RequestId"]
    report, statuses = poll_until_final(server, access, created.json()["reportId"])
    assert statuses == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
    assert report["reportType"] == REPORT and report["marketplaceIds"] == [US]
    assert (report["dataStartTime"], report["dataEndTime"]) == ("2025-01-15T00:00:00.000Z", "2025-03-01T00:00:00.000Z")
    assert report["createdTime"] == AFTER_END.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    document = get(server, access, f"/documents/{report['reportDocumentId']}")
    assert document.status_code == 200 and document.json()["compressionAlgorithm"] == "GZIP"
    assert document.json()["reportDocumentId"] == report["reportDocumentId"]
    download = requests.get(document.json()["url"], timeout=10)  # pre-signed: no SP-API header
    assert download.status_code == 200
    lines = gzip.decompress(download.content).decode("utf-8").rstrip("\n").split("\n")
    assert lines[0].split("\t") == HEADER
    rows = [dict(zip(HEADER, line.split("\t"), strict=True)) for line in lines[1:]]
    want = fba_returns.filter((pl.col("returned_at") >= start) & (pl.col("returned_at") <= end))
    assert 10 < len(rows) == want.height
    got = Counter((r["sku"], datetime.fromisoformat(r["return-date"]), int(r["quantity"]), r["reason"],
                   r["detailed-disposition"]) for r in rows)
    assert got == Counter(want.select("sku", "returned_at", "quantity", "reason", "disposition").iter_rows())
    assert all(r["return-date"].endswith("+00:00") and r["license-plate-number"].startswith("LPN") for r in rows)
    assert len({r["license-plate-number"] for r in rows}) == len(rows)
    assert all(len(r["order-id"]) == 19 and r["asin"].startswith("B0") for r in rows)


def test_an_empty_range_is_cancelled_and_a_planned_fault_is_fatal(server):
    access = token(server)
    empty = create(server, access, dataStartTime="2024-06-01T00:00:00Z", dataEndTime="2024-07-01T00:00:00Z")
    report, statuses = poll_until_final(server, access, empty.json()["reportId"])
    assert statuses[-1] == "CANCELLED" and "reportDocumentId" not in report

    requests.post(f"{server.base_url}/_sandbox/amazon/reports", json={"shop": "acme", "outcome": "FATAL", "polls": 0},
                  timeout=10).raise_for_status()
    fatal = create(server, access, dataStartTime="2025-01-01T00:00:00Z")
    report, statuses = poll_until_final(server, access, fatal.json()["reportId"])
    assert statuses == ["FATAL"] and report["reportDocumentId"]
    document = get(server, access, f"/documents/{report['reportDocumentId']}").json()
    assert b"errorDetails" in gzip.decompress(requests.get(document["url"], timeout=10).content)


@pytest.mark.parametrize(("spec", "words"), [
    ({"dataEndTime": "2030-01-01T00:00:00Z"}, "dataEndTime must be prior to or equal to the current date"),
    ({"dataStartTime": "2025-03-01T00:00:00Z", "dataEndTime": "2025-02-01T00:00:00Z"}, "on or after dataStartTime"),
    ({"reportType": "GET_FLAT_FILE_OPEN_LISTINGS_DATA"}, "not supported by the sandbox"),
    ({"marketplaceIds": []}, "marketplaceIds is required"),
    ({"marketplaceIds": ["A1PA6795UKMFR9"]}, "not registered in A1PA6795UKMFR9"),
    ({"dataStartTime": "yesterday"}, "is not an ISO 8601 date"),
])
def test_bad_report_specifications_are_refused_with_invalid_input(server, spec, words):
    response = create(server, token(server), **spec)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "InvalidInput" and words in error["message"]


def test_reports_and_documents_belong_to_their_seller_and_urls_are_signed(server):
    access = token(server)
    report, _ = poll_until_final(server, access, create(server, access, dataStartTime="2025-01-01T00:00:00Z"
                                                        ).json()["reportId"])
    other = token(server, "brezel")
    assert get(server, other, f"/reports/{report['reportId']}").status_code == 404
    refused = get(server, other, f"/documents/{report['reportDocumentId']}")
    assert refused.status_code == 404 and refused.json()["errors"][0]["code"] == "NotFound"
    url = get(server, access, f"/documents/{report['reportDocumentId']}").json()["url"]
    tampered = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10)
    assert tampered.status_code == 403 and "<Code>AccessDenied</Code>" in tampered.text
    unsigned = requests.get(url.split("?")[0], timeout=10)
    assert unsigned.status_code == 403
    assert get(server, access, "/reports/999").status_code == 404


def test_the_real_usage_plans_and_token_expiry(server):
    access = token(server)
    admin(server, "POST", "ratelimit", api="amazon", shop="acme", operation="createReport", rate=0.0167, burst=15)
    codes = [create(server, access, dataStartTime="2025-01-01T00:00:00Z") for _ in range(16)]
    assert [r.status_code for r in codes] == [202] * 15 + [429]
    assert codes[-1].json()["errors"][0]["code"] == "QuotaExceeded"
    assert codes[-1].headers["x-amzn-RateLimit-Limit"] == "0.0167" and "Retry-After" not in codes[-1].headers
    report_id = codes[0].json()["reportId"]
    assert get(server, access, f"/reports/{report_id}").headers["x-amzn-RateLimit-Limit"] == "1000"

    admin(server, "POST", "faults", api="amazon", shop="acme", kind="expire_token")
    expired = get(server, access, f"/reports/{report_id}")
    assert expired.status_code == 403 and "expired" in expired.json()["errors"][0]["details"]
    assert get(server, token(server), f"/reports/{report_id}").status_code == 200
