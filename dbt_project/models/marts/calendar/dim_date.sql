-- A shared calendar (not tenant-specific): every day from 2015 to 2030 with its calendar attributes.
with days as (
    {{ dbt.date_spine(datepart='day', start_date="cast('2015-01-01' as date)",
                      end_date="cast('2031-01-01' as date)") }}
)

select
    cast(date_day as date) as date_day,
    cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
    cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
    extract(year from date_day) as year,
    extract(quarter from date_day) as quarter,
    extract(month from date_day) as month,
    extract(day from date_day) as day_of_month,
    extract(isodow from date_day) as iso_day_of_week,
    extract(isodow from date_day) in (6, 7) as is_weekend
from days
