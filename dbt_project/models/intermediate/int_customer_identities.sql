-- Who is who across channels: every customer record of a source that keeps customers (Shopify, file drops, the
-- ERP database) mapped to ONE unified customer_key. Records with the same normalized e-mail (trimmed, lower
-- case -- staging normalizes) are one customer, whichever source they come from; a record without a usable
-- e-mail stays its own, channel-scoped customer. Marketplace buyers (Amazon, Walmart) have no records here:
-- their addresses are anonymised relays, so int_orders keys them per channel, like any order whose customer id
-- has no record. The key of an e-mail identity is derived from the e-mail's hash, never from a source id, so it
-- is stable whichever record arrives first.
with records as (
    select 'shopify' as source, customer_id, email from {{ ref('stg_shopify__customers') }}
    union all
    select 'files' as source, customer_id, email from {{ ref('stg_files__customers') }}
    union all
    select 'sql_database' as source, customer_id, email from {{ ref('stg_sql_database__customers') }}
),

usable as (
    select
        source,
        customer_id,
        case
            when email is null or email not like '%_@_%' then null
            -- relay addresses of marketplaces and checkout wallets identify an order, not a person
            when email like '%@marketplace.amazon.%' or email like '%@relay.walmart.com' then null
            else email
        end as email
    from records
    where customer_id is not null
)

select
    {{ tenant_id_literal() }} as tenant_id,
    source,
    customer_id,
    email,
    case when email is not null then {{ dbt.hash('email') }} end as email_hash,
    case when email is not null then 'email' else 'channel' end as identity_type,
    case
        when email is not null then {{ surrogate_key([tenant_id_literal(), "'email'", dbt.hash('email')]) }}
        else {{ surrogate_key([tenant_id_literal(), 'source', 'customer_id']) }}
    end as customer_key
from usable
