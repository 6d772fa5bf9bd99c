with customers as (
    select * from {{ tenant_source('files', 'customers') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    customer_id,
    lower(trim(email)) as email,
    first_name,
    last_name,
    country_code,
    created_at
from customers
