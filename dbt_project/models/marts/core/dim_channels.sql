-- The channels the current tenant has orders in, described and classified by the channels seed. A channel the
-- seed does not know yet keeps its row (name = code, channel_type null) and warns in the facts' tests.
with used as (
    select
        channel,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from (select distinct channel, source from {{ ref('int_orders') }}) as channel_sources
    group by channel
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'used.channel']) }} as channel_key,
    used.channel,
    coalesce(channels.channel_name, used.channel) as channel_name,
    channels.channel_type,
    used.sources as source
from used
left join {{ ref('channels') }} as channels
    on channels.channel = used.channel
