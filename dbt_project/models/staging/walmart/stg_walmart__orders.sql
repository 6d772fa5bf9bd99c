-- Walmart purchase orders of the current tenant in the marts' order contract. The buyer is channel-scoped: the
-- anonymised relay e-mail Walmart gives (customerEmailId), lower-cased. Walmart charges in one currency, so the
-- presentment currency is the order currency.
with orders as (
    select * from {{ tenant_source('walmart', 'orders') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    order_id,
    customer_order_id as order_number,
    nullif(lower(trim(customer_email_id)), '') as customer_id,
    order_date as ordered_at,
    upper(currency) as currency,
    upper(currency) as presentment_currency,
    {{ money('coalesce(shipping_amount, 0)') }} as shipping_amount,
    'walmart' as channel,
    coalesce(is_cancelled, false) as is_cancelled
from orders
