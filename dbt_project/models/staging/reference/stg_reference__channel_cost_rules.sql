-- The cost rules that apply to the current tenant: its own row per channel, else the default (tenant_id *).
with ranked as (
    select
        rules.*,
        row_number() over (
            partition by rules.channel order by case when rules.tenant_id = '*' then 1 else 0 end
        ) as rule_rank
    from {{ ref('channel_cost_rules') }} as rules
    where rules.tenant_id in ('{{ current_tenant() }}', '*')
)

select
    {{ tenant_id_literal() }} as tenant_id,
    channel,
    payment_fee_bp,
    cast(payment_fee_fixed as decimal(18, 2)) as payment_fee_fixed,
    cast(shipping_cost_per_order as decimal(18, 2)) as shipping_cost_per_order,
    tenant_id as rule_tenant
from ranked
where rule_rank = 1
