-- Walmart order lines of the current tenant. unit_price is the ItemPrice charge per unit (before discounts);
-- Walmart's discounts are negative PRODUCT charges, landed as a positive discount_amount.
with lines as (
    select * from {{ tenant_source('walmart', 'order_lines') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    line_id,
    order_id,
    nullif(trim(sku), '') as sku,
    cast(quantity as bigint) as quantity,
    {{ unit_price('unit_price_amount') }} as unit_price,
    {{ money('coalesce(discount_amount, 0)') }} as discount_amount,
    {{ money('coalesce(tax_amount, 0)') }} as tax_amount
from lines
