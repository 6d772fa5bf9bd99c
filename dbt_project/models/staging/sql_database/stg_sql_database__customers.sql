-- Trade accounts from the current tenant's ERP database; e-mail lower-cased and trimmed (empty -> null).
with customers as (
    select * from {{ tenant_source('sql_database', 'erp_customers') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast(customer_id as {{ dbt.type_string() }}) as customer_id,
    nullif(lower(trim(email)), '') as email,
    first_name,
    last_name,
    upper(nullif(trim(country_code), '')) as country_code,
    created_at
from customers
