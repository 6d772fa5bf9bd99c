with products as (
    select * from {{ tenant_source('files', 'products') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    sku,
    title,
    category,
    cast(price as decimal(18, 4)) as price,
    cast(unit_cost as decimal(18, 4)) as unit_cost
from products
