{% macro ratio(numerator, denominator, scale=4) -%}
  {#-
    numerator / denominator as an exact decimal(18, scale), rounded half away from zero; null when the
    denominator is 0 or null. Exact on both warehouses: PostgreSQL divides numerics; DuckDB (whose decimal
    division returns DOUBLE) divides scaled integers. Inputs may carry at most 4 decimals (money, counts,
    unit costs) -- they are scaled by 10^4 to integers.
  -#}
  {{ return(adapter.dispatch('ratio', 'omnianalytics')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__ratio(numerator, denominator, scale) -%}
  cast(round(cast({{ numerator }} as numeric) / nullif(cast({{ denominator }} as numeric), 0), {{ scale }})
       as decimal(18, {{ scale }}))
{%- endmacro %}

{% macro duckdb__ratio(numerator, denominator, scale) -%}
  {%- set n = 'cast(round(cast(' ~ numerator ~ ' as decimal(38, 4)) * 10000, 0) as hugeint)' -%}
  {%- set d = 'cast(round(cast(' ~ denominator ~ ' as decimal(38, 4)) * 10000, 0) as hugeint)' -%}
  case when {{ d }} <> 0 then cast(
    cast(
      sign({{ n }}) * sign({{ d }})
      * ((abs({{ n }}) * {{ 10 ** scale }} * 2 + abs({{ d }})) // (2 * abs({{ d }})))
      as decimal(38, 0)
    ) * cast('{{ '%.*f' % (scale, 10 ** -scale) }}' as decimal(18, {{ scale }}))
  as decimal(18, {{ scale }})) end
{%- endmacro %}
