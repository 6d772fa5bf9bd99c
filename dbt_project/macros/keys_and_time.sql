{% macro surrogate_key(parts) -%}
  {#- md5 over the parts joined by '|', nulls as '∅' (dbt_utils-style, cross-database) -#}
  md5(
    {%- for part in parts %}
    coalesce(cast({{ part }} as {{ dbt.type_string() }}), '∅'){{ " || '|' ||" if not loop.last }}
    {%- endfor %}
  )
{%- endmacro %}


{% macro local_date(timestamp_tz, timezone) -%}
  {{ return(adapter.dispatch('local_date', 'omnianalytics')(timestamp_tz, timezone)) }}
{%- endmacro %}

{% macro default__local_date(timestamp_tz, timezone) -%}
  cast(({{ timestamp_tz }} at time zone {{ timezone }}) as date)
{%- endmacro %}


{% macro money(expression) -%}
  {#- The one money type: exact decimal with two places; rounding is half away from zero (round()). -#}
  cast({{ expression }} as decimal(18, 2))
{%- endmacro %}
