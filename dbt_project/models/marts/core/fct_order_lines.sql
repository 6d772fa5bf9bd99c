-- One row per order line of the current tenant, every source and channel. A tenant-sliced incremental model:
-- the pre-hook deletes this tenant's rows, this query appends them again (dbt_project.yml, macros/tenancy.sql).
with lines as (
    select * from {{ ref('int_order_lines') }}
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
)

select
    lines.tenant_id,
    lines.order_line_key,
    lines.order_key,
    lines.source,
    lines.channel,
    lines.order_id,
    lines.line_id,
    lines.product_key,
    lines.sku,
    lines.customer_key,
    lines.ordered_at,
    {{ local_date('lines.ordered_at', 'tenant.timezone') }} as order_date,
    lines.quantity,
    lines.unit_price,
    lines.gross_amount,
    lines.discount_amount,
    lines.net_line_amount,
    lines.tax_amount,
    lines.refunded_quantity,
    lines.refunded_amount,
    lines.currency
from lines
cross join tenant
