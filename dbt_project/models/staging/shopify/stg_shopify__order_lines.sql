-- Shopify line items of the current tenant. A line without a SKU (custom item) keeps a null sku.
with lines as (
    select * from {{ tenant_source('shopify', 'order_line_items') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    id as line_id,
    order_id,
    nullif(trim(sku), '') as sku,
    variant_id,
    product_id,
    quantity,
    {{ unit_price('original_unit_price_amount') }} as unit_price,
    {{ unit_price('original_unit_price_presentment_amount') }} as unit_price_presentment,
    {{ money('total_discount_amount') }} as discount_amount,
    {{ money('tax_amount') }} as tax_amount
from lines
