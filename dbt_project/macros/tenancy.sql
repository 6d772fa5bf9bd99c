{#
  Tenancy. dbt builds ONE tenant per invocation: dbt build --vars '{tenant: <slug>}'.
  - Staging views live in the tenant's own schema stg_<tenant> and read only the tenant's raw schemas.
  - Marts are tables shared by all tenants, tenant_id first on every row; each build replaces exactly its
    tenant's slice: pre-hook delete_tenant_slice() + incremental append, in one transaction.
  The slug is interpolated into schema names and SQL literals, so it is validated before any use.
#}

{% macro tenant_slug_problem(tenant) -%}
  {#- Why `tenant` is not a safe tenant slug, or '' when it is one (same rule as the tenant registry). -#}
  {%- if tenant is none or (tenant | string | trim) == '' -%}
    no tenant given: run dbt with --vars '{tenant: <slug>}' (one tenant per invocation)
  {%- elif tenant is not string -%}
    tenant must be a string slug, got {{ tenant }}
  {%- elif not modules.re.fullmatch('[a-z][a-z0-9_]{1,30}', tenant) or '__' in tenant -%}
    tenant '{{ tenant }}' is not a safe identifier: it must match ^[a-z][a-z0-9_]{1,30}$ without '__'
  {%- endif -%}
{%- endmacro %}


{% macro current_tenant() -%}
  {#-
    The validated tenant slug of this invocation (var `tenant`). Raises a compiler error naming the problem
    when it is missing or unsafe -- only when SQL is executed (`execute`), so `dbt parse` works without vars.
    A value that IS given is validated at parse time too (see generate_schema_name).
  -#}
  {%- set tenant = var('tenant', none) -%}
  {%- if execute -%}
    {%- set problem = tenant_slug_problem(tenant) | trim -%}
    {%- if problem -%}
      {{- exceptions.raise_compiler_error('OmniAnalytics: ' ~ problem) -}}
    {%- endif -%}
  {%- endif -%}
  {{- return(tenant) -}}
{%- endmacro %}


{% macro tenant_or_placeholder() -%}
  {#-
    The tenant slug for names decided at parse time (schemas). Without a tenant (plain `dbt parse`, a manifest
    for Dagster) it is the placeholder `_no_tenant_`, which can never be a tenant's slug; a tenant that is given
    but unsafe fails here, before dbt creates any schema.
  -#}
  {%- set tenant = var('tenant', none) -%}
  {%- if tenant is none -%}
    {{- return('_no_tenant_') -}}
  {%- endif -%}
  {%- set problem = tenant_slug_problem(tenant) | trim -%}
  {%- if problem -%}
    {{- exceptions.raise_compiler_error('OmniAnalytics: ' ~ problem) -}}
  {%- endif -%}
  {{- return(tenant) -}}
{%- endmacro %}


{% macro generate_schema_name(custom_schema_name, node) -%}
  {#-
    staging (+schema: staging) -> stg_<tenant>; any other custom schema (marts, reference) is used verbatim,
    not prefixed with the target schema, so every tenant's build writes the same shared mart tables.
  -#}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- elif custom_schema_name | trim == 'staging' -%}
    stg_{{ tenant_or_placeholder() }}
  {%- else -%}
    {{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}


{% macro delete_tenant_slice() -%}
  {#-
    Pre-hook of every tenant-sliced mart: delete the current tenant's rows (when the table exists) so that the
    incremental append re-inserts exactly its slice. Hooks run inside the model's transaction, so readers see
    the old slice or the new one, never a half-built one. Other tenants' rows are never touched.
  -#}
  {%- if execute -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema,
                                            identifier=this.identifier) -%}
    {%- if existing is not none -%}
      delete from {{ existing }} where tenant_id = '{{ current_tenant() }}'
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}


{% macro tenant_id_literal() -%}
  {#- The current tenant as a typed SQL literal: the first column (tenant_id) of every staging model. -#}
  cast('{{ current_tenant() }}' as {{ dbt.type_string() }})
{%- endmacro %}
