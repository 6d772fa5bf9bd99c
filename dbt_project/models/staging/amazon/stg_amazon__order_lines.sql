-- Amazon order items of the current tenant. ItemPrice is the line's price (quantity × unit price, before deals),
-- so the unit price is ItemPrice / quantity, kept to four places (exact whenever ItemPrice is a whole number of
-- cents per unit, as Amazon prices are); PromotionDiscount is the line's discount, ItemTax its tax.
with items as (
    select * from {{ tenant_source('amazon', 'order_items') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    order_item_id as line_id,
    amazon_order_id as order_id,
    nullif(trim(seller_sku), '') as sku,
    quantity_ordered as quantity,
    {{ unit_price('case when quantity_ordered > 0 then coalesce(item_price_amount, 0) / quantity_ordered'
                  ~ ' else 0 end') }} as unit_price,
    {{ money('coalesce(promotion_discount_amount, 0)') }} as discount_amount,
    {{ money('coalesce(item_tax_amount, 0)') }} as tax_amount
from items
