-- Shopify orders of the current tenant in our vocabulary. The API's own order totals are kept (api_*) only to
-- reconcile our line-built money against them (tests/assert_shopify_orders_reconcile_to_the_api.sql).
with orders as (
    select * from {{ tenant_source('shopify', 'orders') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    id as order_id,
    legacy_resource_id,
    name as order_number,
    customer_id,
    created_at as ordered_at,
    processed_at,
    updated_at,
    cancelled_at,
    currency_code as currency,
    presentment_currency_code as presentment_currency,
    source_name,
    {{ money('total_shipping_amount') }} as shipping_amount,
    {{ money('subtotal_amount') }} as api_subtotal_amount,
    {{ money('total_discounts_amount') }} as api_discount_amount,
    {{ money('total_tax_amount') }} as api_tax_amount,
    {{ money('total_price_amount') }} as api_total_amount,
    {{ money('total_refunded_amount') }} as api_refunded_amount,
    {{ money('total_price_presentment_amount') }} as api_total_presentment_amount
from orders
