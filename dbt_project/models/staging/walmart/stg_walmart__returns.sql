-- Walmart returns at return-line grain: one row per return order line of GET /v3/returns, dated when the
-- customer opened the return. Walmart's Returns API grades no disposition, so it is null here.
with returns as (
    select * from {{ tenant_source('walmart', 'returns') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ dbt.concat(['return_order_id', "'-'", 'cast(return_order_line_number as ' ~ dbt.type_string() ~ ')']) }}
        as return_id,
    purchase_order_id as order_id,
    line_id,
    nullif(trim(sku), '') as sku,
    return_order_date as returned_at,
    cast(quantity as bigint) as returned_quantity,
    return_reason as reason,
    cast(null as {{ dbt.type_string() }}) as disposition,
    'walmart' as channel
from returns
