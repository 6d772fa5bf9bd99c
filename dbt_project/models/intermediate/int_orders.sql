-- Orders of every source at one grain, in our vocabulary (order-level attributes only; money from lines).
select
    tenant_id,
    'shopify' as source,
    'online_store' as channel,
    order_id,
    order_number,
    customer_id,
    ordered_at,
    currency,
    presentment_currency,
    shipping_amount,
    cancelled_at is not null as is_cancelled
from {{ ref('stg_shopify__orders') }}

union all

select
    tenant_id,
    'files' as source,
    coalesce(channel, 'wholesale') as channel,
    order_id,
    order_number,
    customer_id,
    ordered_at,
    currency,
    currency as presentment_currency,
    shipping_amount,
    false as is_cancelled
from {{ ref('stg_files__orders') }}
