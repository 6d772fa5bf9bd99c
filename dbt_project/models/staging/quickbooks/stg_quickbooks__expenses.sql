-- The current tenant's QuickBooks expenses at line grain: supplier bills and purchases (card, cheque, cash).
-- Only the lines of each transaction's current version are kept (a line landed with an older version, since
-- removed, carries an older *_updated_at). Item-based lines are stock bought ('inventory', with the item's SKU);
-- everything else is 'operating'.
with items as (
    select * from {{ tenant_source('quickbooks', 'items') }} as src
),

bills as (
    select * from {{ tenant_source('quickbooks', 'bills') }} as src
),

bill_lines as (
    select * from {{ tenant_source('quickbooks', 'bill_lines') }} as src
),

purchases as (
    select * from {{ tenant_source('quickbooks', 'purchases') }} as src
),

purchase_lines as (
    select * from {{ tenant_source('quickbooks', 'purchase_lines') }} as src
),

lines as (
    select
        'bill' as expense_type,
        bills.id as expense_id,
        bill_lines.line_id,
        bills.txn_date,
        bills.vendor_name,
        bill_lines.detail_type,
        bill_lines.item_id,
        bill_lines.account_name,
        bill_lines.amount,
        bill_lines.qty,
        bill_lines.unit_price,
        bills.currency,
        bills.updated_at
    from bill_lines
    inner join bills
        on bills.id = bill_lines.bill_id
        and bills.updated_at = bill_lines.bill_updated_at

    union all

    select
        'purchase' as expense_type,
        purchases.id as expense_id,
        purchase_lines.line_id,
        purchases.txn_date,
        purchases.entity_name as vendor_name,
        purchase_lines.detail_type,
        purchase_lines.item_id,
        purchase_lines.account_name,
        purchase_lines.amount,
        purchase_lines.qty,
        purchase_lines.unit_price,
        purchases.currency,
        purchases.updated_at
    from purchase_lines
    inner join purchases
        on purchases.id = purchase_lines.purchase_id
        and purchases.updated_at = purchase_lines.purchase_updated_at
)

select
    {{ tenant_id_literal() }} as tenant_id,
    lines.expense_id,
    {{ dbt.concat(["lines.expense_type", "':'", "lines.expense_id", "':'", "lines.line_id"]) }} as expense_line_id,
    lines.expense_type,
    cast(lines.txn_date as date) as txn_date,
    lines.vendor_name,
    coalesce(lines.account_name, items.asset_account_name) as account_name,
    case
        when lines.detail_type = 'ItemBasedExpenseLineDetail' and coalesce(items.type, 'Inventory') = 'Inventory'
            then 'inventory'
        else 'operating'
    end as cost_category,
    case when lines.detail_type = 'ItemBasedExpenseLineDetail' then nullif(trim(items.sku), '') end as sku,
    {{ money('lines.amount') }} as amount,
    -- item-based lines: units received and their unit cost (the cost history of dim_product_costs)
    {{ unit_price("case when lines.detail_type = 'ItemBasedExpenseLineDetail' then lines.qty end") }} as quantity,
    {{ unit_price("case when lines.detail_type = 'ItemBasedExpenseLineDetail' then lines.unit_price end") }}
        as unit_cost,
    lines.currency,
    lines.updated_at
from lines
left join items
    on items.id = lines.item_id
