"""The competitor prices dlt source against the price-intelligence twin, over real HTTP, into a real DuckDB.

Every landed offer is compared with the twin's feed frame (``sandbox.competitor_prices.competitor_feed``: integer
cents), never with what was landed. No test sleeps: the retry waits go to a recorder (``sleep=``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.connectors.base import MissingSecretError
from sandbox.competitor_prices import competitor_feed
from sources.competitor_prices import CompetitorPricesAuthError, competitor_prices_source, start_for
from sources.competitor_prices.helpers import CompetitorPricesError, offers_table
from tests.conftest import SMALL_SHOP

SCHEMA = f"raw_competitor_prices__{SMALL_SHOP}"
KEY = f"cpi_sandbox_{SMALL_SHOP}"
START = "2025-01-01"


@pytest.fixture(scope="module")
def feed(small_world_spec, small_world):
    return competitor_feed(small_world_spec, small_world.shop(SMALL_SHOP))


def control(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def pipeline(tmp_path: Path, state: str = "dlt") -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name=f"competitor_prices__{SMALL_SHOP}", dataset_name=SCHEMA,
                        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"),
                                                            enable_dataset_name_normalization=False),
                        pipelines_dir=str(tmp_path / state))


def run(tmp_path: Path, server, slept: list[float] | None = None, state: str = "dlt", **options) -> dlt.Pipeline:
    p = pipeline(tmp_path, state)
    options = {"api_key": KEY, "start_date": START, "tenant": SMALL_SHOP, **options}
    p.run(competitor_prices_source(base_url=f"{server.base_url}/competitor_prices/v1",
                                   sleep=(slept if slept is not None else []).append, **options))
    return p


def landed(tmp_path: Path) -> dict[tuple[str, str, date], tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows = con.execute("select sku, competitor, observed_date, price, currency, in_stock, product_name, "
                           f"competitor_url from {SCHEMA}.offers").fetchall()
    out = {(sku, competitor, day): tuple(rest) for sku, competitor, day, *rest in rows}
    assert len(out) == len(rows), "an offer landed twice"
    return out


def served(feed, through: date | None = None) -> dict[tuple[str, str, date], tuple]:
    rows = feed.offers if through is None else feed.offers.filter(feed.offers["observed_date"] <= through)
    return {(o["sku"], o["competitor"], o["observed_date"]): (
        Decimal(o["price_cents"]).scaleb(-2), feed.currency, o["in_stock"], o["product_name"], o["competitor_url"])
        for o in rows.iter_rows(named=True)}


def offer_requests(server) -> list[dict[str, str]]:
    return [q for path, q, _ in server.sandbox.twins["competitor_prices"].history if path.endswith("/offers")]


def test_full_load_lands_every_offer_exactly_page_by_page(tmp_path, sandbox, feed):
    slept: list[float] = []
    p = run(tmp_path, sandbox, slept, page_size=500)
    assert landed(tmp_path) == served(feed)
    pages = offer_requests(sandbox)
    assert len(pages) == -(-feed.offers.height // 500) and slept == []
    assert pages[0] == {"observed_from": START, "observed_to": feed.last_day.isoformat(), "limit": "500"}
    assert all(set(q) == {"cursor", "limit"} for q in pages[1:])
    assert p.state["sources"]["competitor_prices"]["resources"]["offers"]["last_observed_date"] == "2025-04-30"
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 f"where table_schema = '{SCHEMA}' and table_name = 'offers'").fetchall())
    assert types["price"] == "DECIMAL(18,2)" and types["observed_date"] == "DATE" and types["in_stock"] == "BOOLEAN"


def test_429_and_5xx_are_retried_after_retry_after(tmp_path, sandbox, feed):
    # http_429: a bare 429 with Retry-After; throttle: the API's own rate-limit answer (its bucket's headers)
    for kind, after in (("http_429", 1), ("throttle", 3), ("http_503", 5), ("http_500", 7)):
        control(sandbox, "POST", "faults", api="competitor_prices", shop=SMALL_SHOP, kind=kind, count=1, after=after)
    slept: list[float] = []
    run(tmp_path, sandbox, slept, page_size=1000)
    assert landed(tmp_path) == served(feed)
    book = control(sandbox, "GET", "stats")["apis"]["competitor_prices"]["shops"][SMALL_SHOP]
    assert book["faults_fired_by_kind"] == {"http_429": 1, "throttle": 1, "http_503": 1, "http_500": 1}
    assert book["requests"] == 1 + -(-feed.offers.height // 1000) + 4  # the account, the pages, the retries
    # Retry-After: 1 on both 429s and the 503 (+ jitter below 0.15 s); the 500 backs off 0.25–0.5 s
    assert len(slept) == 4
    assert sum(1 for s in slept if 1.0 <= s < 1.15) == 3 and sum(1 for s in slept if 0.25 <= s <= 0.5) == 1


def test_a_rerun_merges_without_duplicates_and_rereads_only_the_last_days(tmp_path, sandbox, feed):
    run(tmp_path, sandbox)
    run(tmp_path, sandbox, state="fresh_state")  # no dlt state: the whole history again, merged
    done = len(offer_requests(sandbox))
    again = run(tmp_path, sandbox, lookback_days=2)  # incremental
    assert offer_requests(sandbox)[done]["observed_from"] == "2025-04-28"
    reread = feed.offers.filter(feed.offers["observed_date"] >= date(2025, 4, 28)).height
    assert again.last_trace.last_normalize_info.row_counts["offers"] == reread
    assert landed(tmp_path) == served(feed)
    assert start_for("2025-04-30", START, 2) == date(2025, 4, 28) and start_for(None, START, 2) == date(2025, 1, 1)


def test_incremental_by_observed_date_as_the_clock_moves(tmp_path, sandbox, feed):
    # 1 April, 02:00 in New York: 31 March is the last whole local day
    control(sandbox, "POST", "clock", as_of="2025-04-01T06:00:00Z")
    first = run(tmp_path, sandbox)
    assert landed(tmp_path) == served(feed, date(2025, 3, 31))
    assert first.state["sources"]["competitor_prices"]["resources"]["offers"]["last_observed_date"] == "2025-03-31"
    control(sandbox, "POST", "clock")  # the world's end
    run(tmp_path, sandbox)
    assert landed(tmp_path) == served(feed)


def test_a_refused_key_names_tenant_and_source_never_the_key(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as refused:
        run(tmp_path, sandbox, api_key="cpi_wrong_key_of_testshop")
    message = str(refused.value)
    assert "tenant 'testshop', source 'competitor_prices'" in message and "API key was refused" in message
    assert "HTTP 401 unauthorized" in message and "cpi_wrong_key_of_testshop" not in message
    cause = refused.value.__context__
    while cause is not None and not isinstance(cause, CompetitorPricesAuthError):
        cause = cause.__context__
    assert isinstance(cause, CompetitorPricesAuthError)
    assert offer_requests(sandbox) == []  # refused at the account call, before any page
    # a 500 that outlasts every retry names the request
    control(sandbox, "POST", "faults", api="competitor_prices", shop=SMALL_SHOP, kind="http_500", count=3, after=1)
    with pytest.raises(PipelineStepFailed, match=r"tenant 'testshop', source 'competitor_prices': GET /offers "
                                                 r"2025-01-31\.\.2025-04-30: HTTP 500"):
        run(tmp_path, sandbox, max_attempts=3, start_date="2025-01-31", state="other")


def test_an_offer_breaking_the_contract_is_named_with_its_rule():
    good = {"sku": "SKU-1", "competitor": "PeakMart", "observed_date": "2025-04-30", "price": "12.30",
            "currency": "USD", "in_stock": True, "product_name": "Mug", "competitor_url": None}
    span = {"who": "tenant 'acme', source 'competitor_prices'", "first": date(2025, 4, 1), "last": date(2025, 4, 30)}
    table = offers_table([good], **span)
    assert table.column("price").to_pylist() == [Decimal("12.30")] and str(table.schema.field("price").type) == \
        "decimal128(18, 2)"
    for change, rule in (({"price": Decimal("12.3")}, "not a JSON number"), ({"price": "12.345"}, "at most 2"),
                         ({"price": "0.00"}, "positive"), ({"price": None}, "decimal text"),
                         ({"observed_date": "2025-05-01"}, "within the requested 2025-04-01..2025-04-30"),
                         ({"observed_date": "30/04/2025"}, "YYYY-MM-DD"), ({"currency": "usd"}, "ISO 4217"),
                         ({"sku": " "}, "sku is a non-empty text"), ({"in_stock": "yes"}, "in_stock")):
        with pytest.raises(CompetitorPricesError) as broken:
            offers_table([good, {**good, **change}], **span)
        assert "tenant 'acme', source 'competitor_prices': offer " in str(broken.value)
        assert "breaks rule" in str(broken.value) and rule in str(broken.value)
    with pytest.raises(ValueError, match="page_size"):
        competitor_prices_source(base_url="http://127.0.0.1:1/v1", api_key=KEY, page_size=1001)
    with pytest.raises(ValueError, match="start_date"):
        competitor_prices_source(base_url="http://127.0.0.1:1/v1", api_key=KEY, start_date="30/04/2025")


def test_the_registry_entry_validates_and_builds_with_the_secret_from_the_environment(tmp_path, sandbox, feed,
                                                                                     monkeypatch):
    from orchestration.connectors import CONNECTORS
    from orchestration.tenants import load_registry

    registry_file = tmp_path / "tenants.yaml"
    entry = {"slug": SMALL_SHOP, "display_name": "Test Shop", "currency": "USD", "timezone": "America/New_York",
             "sources": {"competitor_prices": {"base_url": f"{sandbox.base_url}/competitor_prices/v1",
                                               "start_date": START, "secrets": {"api_key": "TESTSHOP_CPI_KEY"}}}}
    registry_file.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(registry_file)
    tenant = registry.get(SMALL_SHOP)
    cfg = tenant.source("competitor_prices")
    assert cfg.lookback_days == 2 and cfg.page_size == 1000
    monkeypatch.delenv("TESTSHOP_CPI_KEY", raising=False)
    with pytest.raises(MissingSecretError, match="tenant 'testshop', source 'competitor_prices': environment "
                                                 "variable TESTSHOP_CPI_KEY"):
        CONNECTORS["competitor_prices"].build(tenant, cfg, registry)
    monkeypatch.setenv("TESTSHOP_CPI_KEY", KEY)
    source = CONNECTORS["competitor_prices"].build(tenant, cfg, registry)
    assert list(source.resources) == ["offers"]
    pipeline(tmp_path).run(source)
    assert landed(tmp_path) == served(feed)
    for bad, match in (({"secrets": {}}, "api_key"), ({"secrets": {"api_key": "lower_case"}}, "environment variable"),
                       ({"base_url": "ftp://x"}, "http"), ({"page_size": 5000}, "1000")):
        entry["sources"]["competitor_prices"] = {**entry["sources"]["competitor_prices"], **bad}
        registry_file.write_text(yaml.safe_dump({"tenants": [entry]}))
        with pytest.raises(ValueError, match=match):
            load_registry(registry_file)
        entry["sources"]["competitor_prices"] = {"base_url": f"{sandbox.base_url}/competitor_prices/v1",
                                                 "start_date": START, "secrets": {"api_key": "TESTSHOP_CPI_KEY"}}
