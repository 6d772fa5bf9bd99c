-- The channels the tenant sells through, described by the channels seed.
with used as (
    select tenant_id, channel, source
    from {{ ref('int_orders') }}
    group by tenant_id, channel, source
)

select
    used.tenant_id,
    {{ surrogate_key(['used.tenant_id', 'used.channel']) }} as channel_key,
    used.channel,
    coalesce(channels.channel_name, used.channel) as channel_name,
    coalesce(channels.channel_type, 'dtc') as channel_type,
    used.source
from used
left join {{ ref('channels') }} as channels
    on channels.channel = used.channel
