-- Amazon refunds at line grain: one row per RefundEventList adjustment item. Amazon signs a refund from the
-- seller's side (Principal and Tax negative, the deal's share given back as a positive promotion), so the
-- refunded merchandise after its discount is -(Principal + promotion), positive here.
with refunds as (
    select * from {{ tenant_source('amazon', 'refund_events') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    event_key as refund_line_id,
    amazon_order_id as order_id,
    order_item_id as line_id,
    posted_date as refunded_at,
    quantity as refunded_quantity,
    {{ money('-(coalesce(principal_amount, 0) + coalesce(promotion_amount, 0))') }} as refunded_amount,
    {{ money('-coalesce(tax_amount, 0)') }} as refunded_tax_amount
from refunds
