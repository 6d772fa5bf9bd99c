-- Order lines from the current tenant's ERP database. A line without a SKU keeps a null sku.
with lines as (
    select * from {{ tenant_source('sql_database', 'erp_order_lines') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast(line_id as {{ dbt.type_string() }}) as line_id,
    cast(order_id as {{ dbt.type_string() }}) as order_id,
    nullif(trim(sku), '') as sku,
    cast(quantity as {{ dbt.type_bigint() }}) as quantity,
    {{ unit_price('unit_price') }} as unit_price,
    {{ money('coalesce(discount_amount, 0)') }} as discount_amount,
    {{ money('coalesce(tax_amount, 0)') }} as tax_amount
from lines
