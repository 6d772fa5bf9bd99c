{% macro money(expression) -%}
  {#-
    The one money type: exact decimal(18,2). Rounds to the cent first with round(), which is half away from
    zero on exact decimals in DuckDB and PostgreSQL alike (the project's one rounding rule, sources/money.py).
  -#}
  cast(round({{ expression }}, 2) as decimal(18, 2))
{%- endmacro %}


{% macro unit_price(expression) -%}
  {#- Unit prices and unit costs: exact decimal(18,4), as landed. -#}
  cast({{ expression }} as decimal(18, 4))
{%- endmacro %}
