-- Amazon returns at return grain: one row per line of the FBA customer returns report (Amazon-fulfilled lines
-- only; the report knows no order item id). line_id is the OrderItemId of the order's only item with that SKU,
-- null when the order holds the SKU on several items (then the return cannot be told apart) or the item is not
-- landed.
with returns as (
    select * from {{ tenant_source('amazon', 'returns') }} as src
),

items as (
    select
        amazon_order_id,
        seller_sku,
        min(order_item_id) as order_item_id,
        count(*) as items_with_sku
    from {{ tenant_source('amazon', 'order_items') }} as src
    group by amazon_order_id, seller_sku
)

select
    {{ tenant_id_literal() }} as tenant_id,
    returns.return_key as return_id,
    returns.amazon_order_id as order_id,
    case when items.items_with_sku = 1 then items.order_item_id end as line_id,
    nullif(trim(returns.sku), '') as sku,
    returns.return_date as returned_at,
    cast(returns.quantity as bigint) as returned_quantity,
    returns.reason,
    returns.detailed_disposition as disposition,
    'amazon' as channel
from returns
left join items
    on returns.amazon_order_id = items.amazon_order_id
    and returns.sku = items.seller_sku
