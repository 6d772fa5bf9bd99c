"""Prove a built site holds no other tenant's data: scan every file for the other tenants' markers.

Markers of a tenant (``foreign_markers``): its slug (as a whole word), its display name and site title (raw and
HTML-escaped), and its **canaries**: its three best-selling SKUs (all-time units in ``marts.fct_order_lines``)
that the site's own tenant does not sell. A SKU is the value most likely to leak (it is on the inventory,
returns and forecast pages), and one no other tenant has is proof of where a row came from. Tenants come from
the registry and from ``marts.dim_tenants`` (a tenant registered in the warehouse but not in this registry
still counts).

``scan_site`` reads every file of the output: text and binary alike (Arrow IPC stores strings as plain UTF-8),
and parquet files decoded with pyarrow (their pages are compressed). ``assert_isolated`` raises naming the
file, the tenant and the value found. build.py runs it before publishing; the acceptance test and the demo's
end-to-end test call the same functions on a published site.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from orchestration.tenants import TenantRegistry
from orchestration.warehouse import PostgresConnection

CANARY_SKUS = 3
MIN_CANARY_LENGTH = 5  # a shorter SKU ("CAP") could occur in any minified script


class SiteIsolationError(AssertionError):
    """A site holds another tenant's name or data; the message lists file, tenant and value."""


@dataclass(frozen=True)
class Marker:
    tenant: str  # whose marker it is
    kind: str  # slug | name | canary_sku
    value: str

    def patterns(self) -> list[re.Pattern[bytes]]:
        if self.kind == "slug":  # a whole word: "kumo" must not match inside "kumozone"
            return [re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(self.value.encode()) + rb"(?![A-Za-z0-9_])")]
        variants = {self.value, html.escape(self.value), html.escape(self.value, quote=False)}
        return [re.compile(re.escape(v.encode())) for v in sorted(variants)]


@dataclass(frozen=True)
class Leak:
    file: str  # relative to the site root
    marker: Marker


def _rows(con, sql: str, params: list) -> list[tuple]:
    if isinstance(con, PostgresConnection):
        sql = sql.replace("?", "%s")
    return con.execute(sql, params).fetchall()


def tenant_markers(con, registry: TenantRegistry, tenant: str) -> list[Marker]:
    """``tenant``'s own markers (slug, names, canary SKUs): another site must show none of them, and the
    tenant's own site shows them (the tests' positive control)."""
    names: set[str] = set()
    if any(t.slug == tenant for t in registry.tenants):
        t = registry.get(tenant)
        names |= {t.display_name, t.branding.title or t.display_name}
    names |= {r[0] for r in _rows(con, "select display_name from marts.dim_tenants where tenant_id = ?", [tenant])
              if r[0]}
    canaries = _rows(con, """
        select sku from marts.fct_order_lines
        where tenant_id = ? and sku is not null and length(sku) >= ?
        group by sku order by sum(quantity) desc, sku limit ?""", [tenant, MIN_CANARY_LENGTH, CANARY_SKUS * 4])
    return ([Marker(tenant, "slug", tenant)] + [Marker(tenant, "name", n) for n in sorted(names)]
            + [Marker(tenant, "canary_sku", r[0]) for r in canaries])


def foreign_markers(con, registry: TenantRegistry, tenant: str) -> list[Marker]:
    """Every other tenant's markers, leaving out values ``tenant`` legitimately has itself (a SKU both sell)."""
    others = set(registry.slugs) | {r[0] for r in _rows(con, "select tenant_id from marts.dim_tenants", [])}
    others.discard(tenant)
    own_skus = {r[0] for r in _rows(con, "select distinct sku from marts.fct_order_lines where tenant_id = ? "
                                         "and sku is not null", [tenant])}
    own = {m.value for m in tenant_markers(con, registry, tenant) if m.kind == "name"}
    markers = []
    for other in sorted(others):
        theirs = tenant_markers(con, registry, other)
        canaries = [m for m in theirs if m.kind == "canary_sku" and m.value not in own_skus][:CANARY_SKUS]
        markers += [m for m in theirs if m.kind != "canary_sku" and m.value not in own] + canaries
    return markers


def _texts(path: Path) -> list[bytes]:
    data = path.read_bytes()
    texts = [data]
    if path.suffix == ".parquet":  # compressed pages: scan the decoded values too
        import pyarrow.parquet as pq

        texts.append(repr(pq.read_table(path).to_pylist()).encode())
    return texts


def scan_site(site_dir: Path, markers: list[Marker]) -> list[Leak]:
    """Every (file, marker) found in any file under ``site_dir``."""
    site_dir = Path(site_dir)
    compiled = [(m, m.patterns()) for m in markers]
    leaks = []
    for path in sorted(p for p in site_dir.rglob("*") if p.is_file()):
        texts = _texts(path)
        for marker, patterns in compiled:
            if any(p.search(t) for p in patterns for t in texts):
                leaks.append(Leak(path.relative_to(site_dir).as_posix(), marker))
    return leaks


def assert_isolated(site_dir: Path, markers: list[Marker], tenant: str) -> None:
    leaks = scan_site(site_dir, markers)
    if leaks:
        shown = "\n  ".join(f"{leak.file}: tenant {leak.marker.tenant}'s {leak.marker.kind} {leak.marker.value!r}"
                            for leak in leaks[:20])
        more = f"\n  … and {len(leaks) - 20} more" if len(leaks) > 20 else ""
        raise SiteIsolationError(f"tenant {tenant}: the site in {site_dir} holds other tenants' data:\n  {shown}"
                                 f"{more}")
