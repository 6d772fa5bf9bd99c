-- What was refunded of each order line, summed over all its refunds: units, and merchandise after discount
-- (refunded tax is not revenue and stays in stg_shopify__refunds).
-- Only Shopify reports refunds today; a source that does adds a union branch here.
select
    'shopify' as source,
    line_id,
    cast(sum(refunded_quantity) as bigint) as refunded_quantity,
    sum(refunded_amount) as refunded_amount
from {{ ref('stg_shopify__refunds') }}
group by line_id
