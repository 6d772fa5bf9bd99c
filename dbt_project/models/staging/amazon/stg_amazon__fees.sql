-- What Amazon charges the brand, one row per fee of an order item, positive = a cost to the brand. Shipments
-- carry the referral fee (Commission) and the FBA fulfilment fee; a refund gives the referral fee back
-- (referral_refund, negative) and charges its refund administration fee (RefundCommission, positive).
-- Amazon signs fees from the seller's side (a charge negative), hence the minus everywhere.
with shipments as (
    select * from {{ tenant_source('amazon', 'shipment_events') }} as src
),

refunds as (
    select * from {{ tenant_source('amazon', 'refund_events') }} as src
),

fees as (
    {%- set kinds = [
        ('shipments', 'commission_amount', 'referral'),
        ('shipments', 'fba_fulfillment_fee_amount', 'fulfillment'),
        ('shipments', 'other_fee_amount', 'other'),
        ('refunds', 'commission_amount', 'referral_refund'),
        ('refunds', 'refund_commission_amount', 'refund_administration'),
        ('refunds', 'fba_fulfillment_fee_amount', 'fulfillment_refund'),
        ('refunds', 'other_fee_amount', 'other_refund'),
    ] %}
    {%- for relation, column, fee_type in kinds %}
    select
        {{ dbt.concat(['event_key', "'/" ~ fee_type ~ "'"]) }} as fee_id,
        amazon_order_id as order_id,
        order_item_id as line_id,
        '{{ fee_type }}' as fee_type,
        -{{ column }} as amount,
        currency_code as currency,
        posted_date as posted_at
    from {{ relation }}
    where {{ column }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    {{ tenant_id_literal() }} as tenant_id,
    fee_id,
    order_id,
    line_id,
    'amazon' as channel,
    fee_type,
    {{ money('amount') }} as amount,
    currency,
    posted_at,
    cast(null as date) as posted_on  -- PostedDate is an instant: fct_fees takes its day in the tenant's time zone
from fees
