-- Orders of every source at one grain, in our vocabulary, with their keys. Order-level attributes only: the
-- money of an order is built from its lines (fct_orders), so order and line figures always add up.
with shopify as (
    select
        tenant_id,
        'shopify' as source,
        -- the Shopify source lands the online store (sourceName web); other Shopify channels come later
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
),

files as (
    select
        tenant_id,
        'files' as source,
        channel,
        order_id,
        order_number,
        customer_id,
        ordered_at,
        currency,
        currency as presentment_currency,
        shipping_amount,
        false as is_cancelled
    from {{ ref('stg_files__orders') }}
),

{%- set order_sources = unified_sources('orders') %}
{%- for src in order_sources %}

{{ src }} as (
    -- every further order source exposes the same staging contract (staging/<source>/_<source>__models.yml)
    select
        tenant_id, '{{ src }}' as source, channel, order_id, order_number, customer_id, ordered_at, currency,
        presentment_currency, shipping_amount, is_cancelled
    from {{ ref('stg_' ~ src ~ '__orders') }}
),
{%- endfor %}

orders as (
    select * from shopify
    union all
    select * from files
    {%- for src in order_sources %}
    union all
    select * from {{ src }}
    {%- endfor %}
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', 'source', 'order_id']) }} as order_key,
    source,
    channel,
    order_id,
    order_number,
    case when customer_id is not null
        then {{ surrogate_key(['tenant_id', 'source', 'customer_id']) }}
    end as customer_key,
    customer_id,
    ordered_at,
    currency,
    presentment_currency,
    shipping_amount,
    is_cancelled
from orders
