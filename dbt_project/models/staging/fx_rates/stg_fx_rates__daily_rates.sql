-- The current tenant's published daily exchange rates, one row per business day and currency pair:
-- rate = units of quote_currency (the reporting currency) per unit of base_currency.
with rates as (
    select * from {{ tenant_source('fx_rates', 'daily_rates') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast(rate_date as date) as rate_date,
    upper(base_currency) as base_currency,
    upper(quote_currency) as quote_currency,
    cast(rate as decimal(18, 8)) as rate
from rates
