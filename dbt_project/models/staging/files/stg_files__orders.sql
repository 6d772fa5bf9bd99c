-- Orders from the current tenant's file drop (valid rows only; rejected rows are in the raw quarantine).
with orders as (
    select * from {{ tenant_source('files', 'orders') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    order_id,
    order_number,
    customer_id,
    ordered_at,
    upper(currency) as currency,
    {{ money('coalesce(shipping_amount, 0)') }} as shipping_amount,
    coalesce(nullif(lower(trim(channel)), ''), 'wholesale') as channel,
    _source_file as source_file,
    _source_line as source_line
from orders
