-- Shopify customers of the current tenant; e-mail lower-cased and trimmed (empty -> null).
with customers as (
    select * from {{ tenant_source('shopify', 'customers') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    id as customer_id,
    nullif(lower(trim(email)), '') as email,
    first_name,
    last_name,
    upper(nullif(trim(country_code), '')) as country_code,
    created_at,
    updated_at,
    number_of_orders as api_order_count,
    {{ money('amount_spent_amount') }} as api_amount_spent
from customers
