{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, sku, competitor, observed_date)',
]) }}")) }}
-- One row per SKU, competitor and observed day of the current tenant: the competitor's price in the tenant's
-- reporting currency beside our own current list price, and the gap between them. Tenant-sliced shared mart
-- (dbt_project.yml: the pre-hook deletes the tenant's rows, the append inserts them again).
-- A price in another currency converts at the observed day's rate (int_fx_rates_daily, macros/fx.sql); a SKU
-- missing from dim_products keeps its row with our_price and price_gap_pct null. On PostgreSQL the alert rule's
-- lookup (a tenant's latest observation per SKU and competitor) has its index.
with offers as (
    select * from {{ ref('stg_competitor_prices__offers') }}
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

products as (
    select sku, price from {{ ref('dim_products') }}
    where tenant_id = '{{ current_tenant() }}'
),

priced as (
    select
        offers.tenant_id,
        offers.sku,
        offers.competitor,
        offers.observed_date,
        tenant.reporting_currency,
        {{ to_reporting('offers.price', 'offers.currency', 'tenant.reporting_currency', 'fx.rate') }}
            as competitor_price,
        {{ money('products.price') }} as our_price
    from offers
    cross join tenant
    left join products
        on products.sku = offers.sku
    left join {{ ref('int_fx_rates_daily') }} as fx
        on fx.base_currency = offers.currency and fx.date_day = offers.observed_date
)

select
    tenant_id,
    sku,
    competitor,
    observed_date,
    cast(reporting_currency as varchar(3)) as currency,
    competitor_price,
    our_price,
    {{ ratio('competitor_price - our_price', 'our_price', 4) }} as price_gap_pct
from priced
