with customers as (
    select * from {{ tenant_source('shopify', 'customers') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    id as customer_id,
    lower(trim(email)) as email,
    first_name,
    last_name,
    country_code,
    created_at,
    updated_at
from customers
