-- Order lines from the current tenant's file drop. line_id = order_id#line_number (the file's line key).
with lines as (
    select * from {{ tenant_source('files', 'order_lines') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ dbt.concat(['order_id', "'#'", 'cast(line_number as ' ~ dbt.type_string() ~ ')']) }} as line_id,
    order_id,
    line_number,
    nullif(trim(sku), '') as sku,
    quantity,
    {{ unit_price('unit_price') }} as unit_price,
    {{ money('coalesce(discount_amount, 0)') }} as discount_amount,
    {{ money('coalesce(tax_amount, 0)') }} as tax_amount
from lines
