{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_orders'}}}) }}
-- Money in the marts is in the tenant's reporting currency (dim_tenants.currency, the shop currency). A file
-- drop whose orders are in another currency is summed as if it were not (no FX conversion yet): warn, per order.
select orders.order_key, orders.source, orders.order_id, orders.currency, tenants.currency as reporting_currency
from {{ ref('fct_orders') }} as orders
inner join {{ ref('stg_platform__tenants') }} as tenants
    on tenants.tenant_id = orders.tenant_id
where orders.tenant_id = '{{ current_tenant() }}'
  and orders.currency <> tenants.currency
