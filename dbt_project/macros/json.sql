{% macro json_object_agg(key, value) -%}
  {#- An aggregate building one JSON object {key: value, ...} per group: jsonb on PostgreSQL (GIN-indexable),
      JSON on DuckDB. Key order is the warehouse's own; compare parsed objects, not their text. -#}
  {{ return(adapter.dispatch('json_object_agg', 'omnianalytics')(key, value)) }}
{%- endmacro %}

{% macro default__json_object_agg(key, value) -%}
  jsonb_object_agg({{ key }}, {{ value }})
{%- endmacro %}

{% macro duckdb__json_object_agg(key, value) -%}
  json_group_object({{ key }}, {{ value }})
{%- endmacro %}
