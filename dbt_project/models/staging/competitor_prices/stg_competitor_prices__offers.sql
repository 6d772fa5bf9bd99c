-- The current tenant's competitor offers, one row per SKU, competitor and observed day, in the offer's own
-- currency (fct_competitor_prices converts to the reporting currency and compares with our price).
with offers as (
    select * from {{ tenant_source('competitor_prices', 'offers') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    sku,
    competitor,
    cast(observed_date as date) as observed_date,
    upper(currency) as currency,
    {{ money('price') }} as price,
    in_stock,
    product_name,
    competitor_url
from offers
