with lines as (
    select * from {{ tenant_source('shopify', 'order_line_items') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    id as line_id,
    order_id,
    sku,
    variant_id,
    product_id,
    quantity,
    cast(original_unit_price_amount as decimal(18, 4)) as unit_price,
    {{ money('total_discount_amount') }} as discount_amount,
    {{ money('tax_amount') }} as tax_amount
from lines
