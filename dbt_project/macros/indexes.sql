{#
  PostgreSQL indexes on the shared marts, cubes and reports. One post-hook per model, next to its SQL:

    {{ config(post_hook=after_commit("{{ pg_indexes(['btree (tenant_id, order_key)', 'brin (order_date)',
                                                     'btree (tenant_id, customer_key) where not is_cancelled']) }}")) }}

  A spec reads like SQL: `<btree|brin|gin|gist|hash> (<columns or expressions>) [where <predicate>]`.
  - PostgreSQL: `create index if not exists` for every index the table lacks, nothing for those it has. The
    marts are incremental with full_refresh false (tenant slices appended), so dbt's own `indexes` config, applied
    only when a table is created, would never reach a table that exists; this hook does, on every build.
  - DuckDB (embedded) and any other adapter: nothing. Specs are validated on every adapter, when dbt parses the
    project: a malformed one fails `dbt parse`, naming the model.
  Names are deterministic, <table>__<method>__<columns>[__p<md5 of predicate>], at most 63 characters (longer
  ones keep 54 and end in an md5 of the whole), so a second build finds them and a changed spec gets a new name
  (the old index stays until dropped by hand). Run it with after_commit: the statements then run once the model's
  transaction (delete + append of the tenant's slice) has committed, so a build never waits for the table's
  share lock while holding the locks of its own writes -- two tenants' builds of one table cannot deadlock on it.
  Once a table has its indexes a build executes no statement at all (and so takes no lock).
#}

{% macro pg_indexes(specs) -%}
  {#- The SQL creating the PostgreSQL indexes `specs` (list of spec strings) on {{ this }}; '' elsewhere. -#}
  {%- set indexes = [] -%}
  {%- set names = [] -%}
  {%- for spec in specs -%}
    {%- set index = parse_index_spec(spec) -%}
    {%- if index.name in names -%}
      {{- exceptions.raise_compiler_error('OmniAnalytics: ' ~ this.identifier ~ ': index spec "' ~ spec
          ~ '" repeats another one (same method, columns and predicate)') -}}
    {%- endif -%}
    {%- do names.append(index.name) -%}
    {%- do indexes.append(index) -%}
  {%- endfor -%}
  {{- return(adapter.dispatch('pg_indexes', 'omnianalytics')(indexes)) -}}
{%- endmacro %}


{% macro parse_index_spec(spec) -%}
  {#- One spec string as {name, method, columns, where}; a compiler error naming the model when it is malformed. -#}
  {%- set found = modules.re.match('(?is)^\s*(btree|brin|gin|gist|hash)\s*\((.+?)\)\s*(?:where\s+(.+?))?\s*$',
                                   spec if spec is string else '') -%}
  {%- if not found -%}
    {{- exceptions.raise_compiler_error('OmniAnalytics: ' ~ this.identifier ~ ': index spec "' ~ spec
        ~ '" is not "<btree|brin|gin|gist|hash> (<columns>) [where <predicate>]"') -}}
  {%- endif -%}
  {%- set method = found.group(1) | lower -%}
  {%- set columns = found.group(2) | trim -%}
  {%- set where = modules.re.sub('\s+', ' ', found.group(3)).strip() if found.group(3) else none -%}
  {%- set name = this.identifier ~ '__' ~ method ~ '__'
                 ~ modules.re.sub('[^a-z0-9]+', '_', columns | lower).strip('_') -%}
  {%- if where -%}
    {%- set name = name ~ '__p' ~ local_md5(where | lower)[:8] -%}
  {%- endif -%}
  {%- if name | length > 63 -%}
    {%- set name = name[:54] ~ '_' ~ local_md5(name)[:8] -%}
  {%- endif -%}
  {{- return({'name': name, 'method': method, 'columns': columns, 'where': where}) -}}
{%- endmacro %}


{% macro default__pg_indexes(indexes) -%}
  {#- DuckDB and other adapters: no indexes (DuckDB scans columnar data with min/max zone maps of its own). -#}
{%- endmacro %}


{% macro postgres__pg_indexes(indexes) -%}
  {%- if execute and indexes -%}
    {%- set existing_sql -%}
      select c.relname
      from pg_class as c
      join pg_namespace as n on n.oid = c.relnamespace
      where n.nspname = '{{ this.schema }}' and c.relkind in ('i', 'I')
    {%- endset -%}
    {%- set existing = run_query(existing_sql).columns[0].values() -%}
    {%- for index in indexes if index.name not in existing %}
create index if not exists "{{ index.name }}" on {{ this }} using {{ index.method }} ({{ index.columns }})
      {%- if index.where %} where {{ index.where }}{% endif %};
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
