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
),

keyed as (
    select
        orders.tenant_id,
        {{ surrogate_key(['orders.tenant_id', 'orders.source', 'orders.order_id']) }} as order_key,
        orders.source,
        orders.channel,
        orders.order_id,
        orders.order_number,
        -- the unified customer (int_customer_identities); an id without a customer record -- a marketplace
        -- buyer, an id whose record has not landed -- is its own channel-scoped customer
        case when orders.customer_id is not null then coalesce(
            identities.customer_key, {{ surrogate_key(['orders.tenant_id', 'orders.source', 'orders.customer_id']) }}
        ) end as customer_key,
        orders.customer_id,
        orders.ordered_at,
        orders.currency,
        orders.presentment_currency,
        orders.shipping_amount,
        orders.is_cancelled
    from orders
    left join {{ ref('int_customer_identities') }} as identities
        on identities.source = orders.source and identities.customer_id = orders.customer_id
)

select
    keyed.*,
    -- the order's place in its customer's purchases (1 = first order; cancelled orders are not purchases and get
    -- none); stable as new orders only ever come later, so cubes built on it never need re-stating
    case when keyed.customer_key is not null and not keyed.is_cancelled then row_number() over (
        partition by keyed.customer_key, keyed.is_cancelled order by keyed.ordered_at, keyed.order_key
    ) end as customer_order_number
from keyed
