-- Customers from the current tenant's file drop; e-mail lower-cased and trimmed (empty -> null).
with customers as (
    select * from {{ tenant_source('files', 'customers') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    customer_id,
    nullif(lower(trim(email)), '') as email,
    first_name,
    last_name,
    upper(nullif(trim(country_code), '')) as country_code,
    created_at
from customers
