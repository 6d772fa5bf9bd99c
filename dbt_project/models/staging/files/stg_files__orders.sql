with orders as (
    select * from {{ tenant_source('files', 'orders') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    order_id,
    order_number,
    customer_id,
    ordered_at,
    currency,
    {{ money('shipping_amount') }} as shipping_amount,
    channel,
    _source_file as source_file,
    _source_line as source_line
from orders
