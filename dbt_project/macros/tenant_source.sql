{#
  tenant_source(source_name, table_name): what a staging model selects from instead of source().

  Returns the tenant's raw table restricted to the columns documented in the source yml, so staging only ever
  sees the contract (contracts.md section 4):
  - the table exists with every documented column  -> (select <documented columns> from <raw table>)
  - the table exists but lacks documented columns  -> those columns as typed nulls, with a warning naming them
    (a raw table landed by an older version of its source, before the column was added)
  - the tenant lacks the source or has not landed the table yet -> an empty relation with the documented
    columns and data types, so a tenant builds with whatever mix of sources it has.
  source() is always called, so dbt records the lineage (and Dagster draws raw -> staging).
  Column names and types are read from graph.sources at execute time: the yml is the single definition.
#}

{% macro tenant_source(source_name, table_name) -%}
  {%- set relation = source(source_name, table_name) -%}
  {%- if not execute -%}
    {{- return(relation) -}}
  {%- endif -%}

  {%- set documented = source_columns(source_name, table_name) -%}
  {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema,
                                          identifier=relation.identifier) -%}
  {%- if existing is none -%}
    {%- set present = [] -%}
  {%- else -%}
    {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name')
                                                              | map('lower') | list -%}
    {%- set missing = documented | rejectattr('name', 'in', present) | map(attribute='name') | list -%}
    {%- if missing -%}
      {%- do exceptions.warn("OmniAnalytics: " ~ existing ~ " lacks documented column(s) "
                              ~ missing | join(', ') ~ "; they read as null until the source lands them") -%}
    {%- endif -%}
  {%- endif -%}

  {%- set select_list = [] -%}
  {%- for column in documented -%}
    {%- if column.name in present -%}
      {%- do select_list.append(adapter.quote(column.name)) -%}
    {%- else -%}
      {%- do select_list.append('cast(null as ' ~ column.data_type ~ ') as ' ~ adapter.quote(column.name)) -%}
    {%- endif -%}
  {%- endfor -%}

  {%- set sql -%}
    (select {{ select_list | join(', ') }}
    {%- if existing is none %} where 1 = 0 {%- else %} from {{ existing }} {%- endif -%})
  {%- endset -%}
  {{- return(sql) -}}
{%- endmacro %}


{% macro source_columns(source_name, table_name) -%}
  {#- The documented columns of a source table as a list of {name, data_type}; every one must have a type. -#}
  {%- set nodes = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
                                         | selectattr('name', 'equalto', table_name) | list -%}
  {%- if nodes | length != 1 -%}
    {{- exceptions.raise_compiler_error("OmniAnalytics: no source " ~ source_name ~ "." ~ table_name) -}}
  {%- endif -%}
  {%- set columns = [] -%}
  {%- for column in nodes[0].columns.values() -%}
    {%- if not column.data_type -%}
      {{- exceptions.raise_compiler_error("OmniAnalytics: source " ~ source_name ~ "." ~ table_name ~ " column "
                                          ~ column.name ~ " has no data_type in its yml") -}}
    {%- endif -%}
    {%- do columns.append({'name': column.name | lower, 'data_type': column.data_type}) -%}
  {%- endfor -%}
  {%- if not columns -%}
    {{- exceptions.raise_compiler_error("OmniAnalytics: source " ~ source_name ~ "." ~ table_name
                                        ~ " documents no columns") -}}
  {%- endif -%}
  {{- return(columns) -}}
{%- endmacro %}
