{#
  tenant_source(source_name, table_name): the tenant's raw table, or — when the tenant lacks that source or has
  not landed it yet — an empty relation with the documented columns and types (from the source yml), so every
  tenant builds whatever mix of sources it has. source() is always called, so dbt keeps the lineage.
#}

{% macro tenant_source(source_name, table_name) -%}
  {%- set relation = source(source_name, table_name) -%}
  {%- if execute -%}
    {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema,
                                            identifier=relation.identifier) -%}
    {%- if existing is none -%}
      {{- return(empty_source(source_name, table_name)) -}}
    {%- endif -%}
  {%- endif -%}
  {{- return(relation) -}}
{%- endmacro %}


{% macro empty_source(source_name, table_name) -%}
  {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                                          | selectattr('name', 'equalto', table_name) | first -%}
  {%- set columns = node.columns.values() | list -%}
  {%- if not columns -%}
    {{ exceptions.raise_compiler_error("source " ~ source_name ~ "." ~ table_name ~ " documents no columns") }}
  {%- endif -%}
  (select
    {%- for column in columns %}
    cast(null as {{ column.data_type }}) as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
  where 1 = 0)
{%- endmacro %}
