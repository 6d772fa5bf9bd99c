-- What Walmart charges the brand, from the reconciliation report, positive = a cost to the brand. A sale carries
-- the referral fee (Commission on Product) and, for WFS items, the WFS fulfilment fee; a refund gives the
-- commission back (referral_refund, negative here). Walmart signs amounts from the seller's side, hence the minus.
with fees as (
    select * from {{ tenant_source('walmart', 'fees') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    fee_id,
    order_id,
    line_id,
    'walmart' as channel,
    case  -- Walmart pays a fee back with a positive amount (a commission refund on a returned line)
        when amount_type like 'Commission%' and amount > 0 then 'referral_refund'
        when amount_type like 'Commission%' then 'referral'
        when amount_type like 'WFS%' and amount > 0 then 'fulfillment_refund'
        when amount_type like 'WFS%' then 'fulfillment'
        when amount > 0 then 'other_refund'
        else 'other'
    end as fee_type,
    {{ money('-amount') }} as amount,
    upper(currency) as currency,
    posted_at,
    -- the report carries the posting DATE only (landed as midnight UTC): fct_fees dates the fee on that day, the
    -- day Walmart reports, instead of converting a midnight that never happened to the tenant's time zone
    {{ local_date('posted_at', "'UTC'") }} as posted_on
from fees
