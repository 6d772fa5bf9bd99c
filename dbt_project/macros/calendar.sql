{% macro local_date(timestamp_tz, timezone) -%}
  {#- The calendar day of a UTC instant (timestamp with time zone) in an IANA time zone (a column or literal). -#}
  {{ return(adapter.dispatch('local_date', 'omnianalytics')(timestamp_tz, timezone)) }}
{%- endmacro %}

{% macro default__local_date(timestamp_tz, timezone) -%}
  {#- DuckDB (ICU) and PostgreSQL: timestamptz AT TIME ZONE zone -> the local wall-clock timestamp. -#}
  cast(({{ timestamp_tz }} at time zone {{ timezone }}) as date)
{%- endmacro %}


{% macro day_spine(start_date, end_date) -%}
  {#-
    One row per day (column date_day) from start_date to end_date inclusive; both are SQL expressions (scalar
    subqueries allowed). Pure set-based SQL: a 0..99,999 counter from cross-joined digits (273 years),
    dbt.datediff and dbt.dateadd -- no query at compile time, so it compiles before its inputs exist.
  -#}
  with spine_digits as (
      select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
      union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
  ),

  spine_counter as (
      select d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d as n
      from spine_digits as d1
      cross join spine_digits as d2
      cross join spine_digits as d3
      cross join spine_digits as d4
      cross join spine_digits as d5
  ),

  spine_bounds as (
      select cast({{ start_date }} as date) as first_day, cast({{ end_date }} as date) as last_day
  )

  select cast({{ dbt.dateadd('day', 'spine_counter.n', 'spine_bounds.first_day') }} as date) as date_day
  from spine_counter
  cross join spine_bounds
  where spine_counter.n <= {{ dbt.datediff('spine_bounds.first_day', 'spine_bounds.last_day', 'day') }}
{%- endmacro %}

