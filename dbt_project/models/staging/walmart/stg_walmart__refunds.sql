-- Walmart refunds at line grain: one row per refunded order line (the line's refund object), dated by the
-- line's statusDate. Walmart signs refund charges negative; the source lands them positive.
with refunds as (
    select * from {{ tenant_source('walmart', 'refunds') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    refund_line_id,
    order_id,
    line_id,
    refunded_at,
    cast(quantity as bigint) as refunded_quantity,
    {{ money('coalesce(amount, 0)') }} as refunded_amount,
    {{ money('coalesce(tax_amount, 0)') }} as refunded_tax_amount
from refunds
