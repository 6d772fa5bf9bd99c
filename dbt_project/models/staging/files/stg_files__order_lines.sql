with lines as (
    select * from {{ tenant_source('files', 'order_lines') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    order_id || '#' || cast(line_number as {{ dbt.type_string() }}) as line_id,
    order_id,
    line_number,
    sku,
    quantity,
    cast(unit_price as decimal(18, 4)) as unit_price,
    {{ money('discount_amount') }} as discount_amount,
    {{ money('tax_amount') }} as tax_amount
from lines
