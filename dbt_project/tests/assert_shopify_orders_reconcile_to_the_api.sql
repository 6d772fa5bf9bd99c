{{ config(meta={'dagster': {'ref': {'name': 'fct_orders'}}}) }}
-- Our order money, rebuilt from lines, must equal what the Shopify API reports for the same order, to the cent:
-- subtotal = gross − discounts, and refunded total = refunded merchandise + refunded tax.
with ours as (
    select order_id, gross_amount - discount_amount as subtotal, refund_amount
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and source = 'shopify'
),

refund_tax as (
    select order_id, sum(refunded_tax_amount) as refunded_tax
    from {{ ref('stg_shopify__refunds') }}
    group by order_id
)

select api.order_id, api.subtotal_amount, ours.subtotal, api.refunded_total_amount, ours.refund_amount
from {{ ref('stg_shopify__orders') }} as api
inner join ours on ours.order_id = api.order_id
left join refund_tax on refund_tax.order_id = api.order_id
where api.subtotal_amount <> ours.subtotal
   or api.refunded_total_amount <> ours.refund_amount + coalesce(refund_tax.refunded_tax, 0)
