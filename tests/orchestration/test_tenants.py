"""The tenant registry: the shipped demo registry loads; bad entries fail naming tenant and field."""

from pathlib import Path

import pytest
import yaml

from orchestration.tenants import MissingSecretError, TenantConfigError, load_registry

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "slug": "acme",
    "display_name": "Acme",
    "currency": "USD",
    "timezone": "America/Chicago",
    "sources": {
        "shopify": {"shop_url": "https://acme.myshopify.com/", "secrets": {"access_token": "ACME_SHOPIFY_TOKEN"}},
        "files": {"bucket_url": "drops/acme"},
    },
}


def write(tmp_path: Path, *tenants: dict) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": list(tenants)}))
    return path


def test_demo_registry_loads():
    registry = load_registry(REPO / "tenants.yaml")
    assert registry.slugs == ["northwind", "alpine", "kumo"]
    assert {t.currency for t in registry.tenants} == {"USD", "EUR", "GBP"}
    # each demo tenant has its own mix of channels around its Shopify store
    mixes = {t.slug: set(t.sources) for t in registry.tenants}
    assert all({"shopify", "amazon", "meta_ads"} <= mix for mix in mixes.values())
    assert len({frozenset(mix) for mix in mixes.values()}) == 3
    assert "sql_database" in mixes["kumo"] and "files" not in mixes["kumo"]


def test_good_registry_normalises_and_resolves_paths(tmp_path):
    registry = load_registry(write(tmp_path, GOOD))
    acme = registry.get("acme")
    assert acme.sources["shopify"].shop_url == "https://acme.myshopify.com"
    assert acme.sources["shopify"].page_size == 50
    assert registry.resolve_path(acme.sources["files"].bucket_url) == (tmp_path / "drops" / "acme").resolve()
    assert acme.plan_tier == "starter" and acme.data_retention_days == 730


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"slug": "Acme-Co"}, "slug", "must match"),
        ({"slug": "acme__eu"}, "slug", "without '__'"),
        ({"currency": "usd"}, "currency", "ISO 4217"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"plan_tier": "platinum"}, "plan_tier", "Input should be"),
        ({"data_retention_days": 3}, "data_retention_days", "greater than or equal to 30"),
        ({"sources": {"ebay": {}}}, "sources", "unknown source 'ebay'"),
        ({"sources": {"shopify": {"shop_url": "ftp://x", "secrets": {"access_token": "T"}}}}, "shopify.shop_url",
         "http"),
        ({"sources": {"shopify": {"shop_url": "https://x.myshopify.com", "secrets": {}}}}, "sources",
         "access_token"),
        ({"sources": {"shopify": {"shop_url": "https://x.myshopify.com", "secrets": {"access_token": "shpat_1"}}}},
         "shopify.secrets", "environment variable"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"sources": {"files": {"bucket_url": "sftp://drops.example.com/acme"}}}, "sources", "sftp_username"),
        ({"sources": {"files": {"bucket_url": "d", "rules": [{"name": "eur", "entity": "orders", "column": "cur",
                                                               "allowed": ["EUR"]}]}}}, "files.rules.0",
         "orders has no column 'cur'"),
    ],
)
def test_invalid_entries_name_tenant_and_field(tmp_path, change, field, words):
    with pytest.raises(TenantConfigError) as err:
        load_registry(write(tmp_path, {**GOOD, **change}))
    message = str(err.value)
    label = change.get("slug", "acme")
    assert f"tenant {label!r}" in message
    assert field in message and words in message


def test_duplicate_slugs_and_empty_registry(tmp_path):
    with pytest.raises(TenantConfigError, match="'acme': slug is used twice"):
        load_registry(write(tmp_path, GOOD, GOOD))
    empty = tmp_path / "empty.yaml"
    empty.write_text("tenants: []\n")
    with pytest.raises(TenantConfigError, match="non-empty list"):
        load_registry(empty)


def test_secret_is_read_at_run_time_and_never_echoed(tmp_path, monkeypatch):
    shopify = load_registry(write(tmp_path, GOOD)).get("acme").sources["shopify"]
    monkeypatch.delenv("ACME_SHOPIFY_TOKEN", raising=False)
    with pytest.raises(MissingSecretError, match="tenant 'acme', source 'shopify': environment variable "
                                                  "ACME_SHOPIFY_TOKEN"):
        shopify.secret("access_token", tenant="acme", source="shopify")
    monkeypatch.setenv("ACME_SHOPIFY_TOKEN", "shpat_real_secret")
    assert shopify.secret("access_token", tenant="acme", source="shopify") == "shpat_real_secret"
