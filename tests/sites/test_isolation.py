"""orchestration/sites/isolation.py: the other tenants' markers, and a scan that finds a planted name, slug or
canary SKU in any file of a site: text, binary, and the compressed pages of a parquet file."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.sites.isolation import (
    Marker,
    SiteIsolationError,
    assert_isolated,
    foreign_markers,
    scan_site,
    tenant_markers,
)
from orchestration.warehouse import connect
from tests.sites import world


def markers_for(settings, registry, tenant=world.ACME) -> list[Marker]:
    with connect(settings) as con:
        return foreign_markers(con, registry, tenant)


def test_markers_are_the_other_tenants_slug_name_and_canary_skus(duckdb_world, registry):
    markers = markers_for(duckdb_world, registry)
    assert {(m.kind, m.value) for m in markers} == {("slug", world.RIVAL), ("name", world.RIVAL_NAME),
                                                    ("canary_sku", world.RIVAL_SKU)}
    with connect(duckdb_world) as con:
        own = tenant_markers(con, registry, world.ACME)
    assert {m.value for m in own if m.kind == "canary_sku"} == {world.ACME_SKU, world.ACME_SKU_2}


def test_a_sku_both_tenants_sell_is_no_canary(duckdb_world, registry):
    with connect(duckdb_world, read_only=False) as con:
        con.execute("insert into marts.fct_order_lines values ('acme', 'acme-x', 'online_store', '2025-03-01', "
                    "?, 1, false, 1.00, 0.00)", [world.RIVAL_SKU])
    assert world.RIVAL_SKU not in {m.value for m in markers_for(duckdb_world, registry)}


def test_the_scan_finds_planted_values_anywhere(tmp_path, duckdb_world, registry):
    site = tmp_path / "site"
    (site / "_app").mkdir(parents=True)
    (site / "index.html").write_text(f"<h1>{world.ACME_NAME}</h1><p>a rivalry is not the slug</p>")
    (site / "_app" / "chunk.js").write_text("const x = 1;")
    markers = markers_for(duckdb_world, registry)
    assert scan_site(site, markers) == []
    assert_isolated(site, markers, world.ACME)  # clean: no error

    (site / "_app" / "chunk.js").write_text(f'const t = "{world.RIVAL_NAME}";')
    (site / "data.arrow").write_bytes(b"\x00\x01" + world.RIVAL.encode() + b"\x00")
    table = pa.table({"sku": [f"{world.RIVAL_SKU}-{i:05d}" for i in range(2000)]})
    pq.write_table(table, site / "table.parquet", compression="zstd", use_dictionary=False,
                   write_statistics=False, store_schema=False)
    assert world.RIVAL_SKU.encode() not in (site / "table.parquet").read_bytes()  # only decoding finds it
    found = {(leak.file, leak.marker.kind) for leak in scan_site(site, markers)}
    assert found == {("_app/chunk.js", "name"), ("data.arrow", "slug"), ("table.parquet", "canary_sku")}
    with pytest.raises(SiteIsolationError,
                       match=r"(?s)tenant acme: .*_app/chunk.js: tenant rival's name 'Rival Goods'"):
        assert_isolated(site, markers, world.ACME)


def test_html_escaped_names_are_found(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<title>Bob &amp; Sons</title>")
    leaks = scan_site(site, [Marker("bob", "name", "Bob & Sons")])
    assert [leak.file for leak in leaks] == ["index.html"]
