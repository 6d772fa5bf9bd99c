-- Wholesale orders from the current tenant's ERP database, in the unified order model. Ids become text (ids
-- of every source are text); the ERP prices in the shop currency, so the presentment currency is the same.
with orders as (
    select * from {{ tenant_source('sql_database', 'erp_orders') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    order_number,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    ordered_at,
    upper(currency) as currency,
    upper(currency) as presentment_currency,
    {{ money('coalesce(shipping_amount, 0)') }} as shipping_amount,
    coalesce(nullif(lower(trim(channel)), ''), 'wholesale') as channel,
    coalesce(lower(trim(status)) = 'cancelled', false) as is_cancelled
from orders
