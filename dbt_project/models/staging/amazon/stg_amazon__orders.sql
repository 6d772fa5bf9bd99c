-- Amazon orders of the current tenant in our vocabulary. Amazon reports shipping per item (ShippingPrice less
-- ShippingDiscount), so the order's shipping is the sum over its items. The buyer is channel-scoped: the
-- anonymised relay e-mail Amazon gives (BuyerInfo.BuyerEmail), lower-cased.
with orders as (
    select * from {{ tenant_source('amazon', 'orders') }} as src
),

items as (
    select * from {{ tenant_source('amazon', 'order_items') }} as src
),

shipping as (
    select
        amazon_order_id,
        sum(coalesce(shipping_price_amount, 0) - coalesce(shipping_discount_amount, 0)) as shipping_amount,
        max(currency_code) as currency_code
    from items
    group by amazon_order_id
)

select
    {{ tenant_id_literal() }} as tenant_id,
    orders.amazon_order_id as order_id,
    orders.amazon_order_id as order_number,
    nullif(lower(trim(orders.buyer_email)), '') as customer_id,
    orders.purchase_date as ordered_at,
    coalesce(orders.order_total_currency_code, shipping.currency_code) as currency,
    coalesce(orders.order_total_currency_code, shipping.currency_code) as presentment_currency,
    {{ money('coalesce(shipping.shipping_amount, 0)') }} as shipping_amount,
    'amazon' as channel,
    coalesce(orders.order_status = 'Canceled', false) as is_cancelled
from orders
left join shipping
    on shipping.amazon_order_id = orders.amazon_order_id
