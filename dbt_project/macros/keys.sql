{% macro surrogate_key(parts) -%}
  {#-
    Surrogate key: md5 of the parts cast to text and joined with '|' (a null part becomes '_null_', so
    (a, null) and (null, a) differ). Cross-database through dbt's hash/concat/type_string. Every key in the
    marts includes tenant_id as its first part, so keys never collide across tenants.
  -#}
  {%- set texts = [] -%}
  {%- for part in parts -%}
    {%- if not loop.first -%}{%- do texts.append("'|'") -%}{%- endif -%}
    {%- do texts.append("coalesce(cast(" ~ part ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(texts)) }}
{%- endmacro %}
