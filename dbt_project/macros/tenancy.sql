{#
  Tenancy: dbt builds one tenant per invocation (--vars '{tenant: <slug>}').
  Staging views live in the tenant's own schema (stg_<tenant>); marts are shared tables with tenant_id on every
  row, and each build replaces exactly its tenant's slice (pre-hook delete_tenant_slice + append).
#}

{% macro current_tenant() -%}
  {%- set tenant = var('tenant', none) -%}
  {%- if execute -%}
    {%- if tenant is none or not modules.re.match('^[a-z][a-z0-9_]{1,30}$', tenant | string) or '__' in tenant -%}
      {{ exceptions.raise_compiler_error(
          "OmniAnalytics builds one tenant at a time: run dbt with --vars '{tenant: <slug>}' (got " ~ tenant ~ ")") }}
    {%- endif -%}
  {%- endif -%}
  {{- return(tenant) -}}
{%- endmacro %}


{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- elif custom_schema_name | trim == 'staging' -%}
    stg_{{ var('tenant', none) or 'unset' }}
  {%- else -%}
    {{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}


{% macro delete_tenant_slice() -%}
  {#- Pre-hook of every mart: remove the current tenant's rows so the build re-inserts exactly its slice. -#}
  {%- if execute -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is not none -%}
      delete from {{ this }} where tenant_id = '{{ current_tenant() }}'
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
