with orders as (
    select * from {{ tenant_source('shopify', 'orders') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    id as order_id,
    legacy_resource_id,
    name as order_number,
    customer_id,
    created_at as ordered_at,
    updated_at,
    cancelled_at,
    currency_code as currency,
    presentment_currency_code as presentment_currency,
    source_name,
    {{ money('subtotal_amount') }} as subtotal_amount,
    {{ money('total_discounts_amount') }} as discount_amount,
    {{ money('total_tax_amount') }} as tax_amount,
    {{ money('total_shipping_amount') }} as shipping_amount,
    {{ money('total_price_amount') }} as total_amount,
    {{ money('total_refunded_amount') }} as refunded_total_amount
from orders
