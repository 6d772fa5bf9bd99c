-- What was refunded of each order line, summed over all its refunds: units, and merchandise after discount
-- (refunded tax is not revenue and stays in the refund facts). Sources: Shopify, and unified_sources('refunds').
{%- set refund_sources = ['shopify'] + unified_sources('refunds') %}
{%- for src in refund_sources %}
{%- if not loop.first %}

union all
{% endif %}
select
    '{{ src }}' as source,
    line_id,
    cast(sum(refunded_quantity) as bigint) as refunded_quantity,
    sum(refunded_amount) as refunded_amount
from {{ ref('stg_' ~ src ~ '__refunds') }}
group by line_id
{%- endfor %}
