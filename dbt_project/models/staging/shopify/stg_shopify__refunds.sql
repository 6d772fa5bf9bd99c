-- Refund line grain: one row per refunded line item, dated by its refund. Merchandise (after discount) and tax
-- are kept apart; Shopify's refund total is their sum.
with refund_lines as (
    select * from {{ tenant_source('shopify', 'refund_line_items') }} as src
),

refunds as (
    select * from {{ tenant_source('shopify', 'refunds') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    refund_lines.id as refund_line_id,
    refund_lines.refund_id,
    refund_lines.order_id,
    refund_lines.line_item_id as line_id,
    refunds.created_at as refunded_at,
    refund_lines.quantity as refunded_quantity,
    {{ money('refund_lines.subtotal_amount') }} as refunded_amount,
    {{ money('refund_lines.total_tax_amount') }} as refunded_tax_amount
from refund_lines
left join refunds
    on refunds.id = refund_lines.refund_id
