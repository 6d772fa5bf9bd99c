{{ config(meta={'dagster': {'ref': {'name': 'fct_orders'}}}) }}
-- Our Shopify order money, built from lines and refund lines, must equal what the Shopify API itself reports
-- for the same order, to the cent (contracts.md section 4):
--   api subtotal (lines after discounts)           = gross_amount - discount_amount
--   api total refunded (merchandise + refunded tax) = refund_amount + Σ refunded tax of the order's refund lines
-- Returns the orders that do not reconcile (none: the test passes).
with ours as (
    select order_id, gross_amount, discount_amount, refund_amount
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and source = 'shopify'
),

refunded_tax as (
    select order_id, sum(refunded_tax_amount) as refunded_tax_amount
    from {{ ref('stg_shopify__refunds') }}
    group by order_id
),

compared as (
    select
        api.order_id,
        api.api_subtotal_amount,
        ours.gross_amount - ours.discount_amount as our_subtotal_amount,
        api.api_refunded_amount,
        ours.refund_amount + coalesce(refunded_tax.refunded_tax_amount, 0) as our_refunded_amount
    from {{ ref('stg_shopify__orders') }} as api
    left join ours
        on ours.order_id = api.order_id
    left join refunded_tax
        on refunded_tax.order_id = api.order_id
)

select *
from compared
where our_subtotal_amount is distinct from api_subtotal_amount  -- also catches an order missing from fct_orders
   or our_refunded_amount is distinct from api_refunded_amount
