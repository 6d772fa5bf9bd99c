{#
  Which staging sources feed each unified fact beyond the originals (Shopify, files), in one place. Every source
  listed under a kind exposes that kind's staging contract, column for column (documented in its
  staging/<source>/_<source>__models.yml), so the intermediate models union them in a loop:
    orders  -> stg_<source>__orders and stg_<source>__order_lines (int_orders, int_order_lines)
    refunds -> stg_<source>__refunds (int_refunds_per_line, fct_refunds)
    fees -> stg_<source>__fees (fct_fees)
    inventory -> stg_<source>__inventory (fct_inventory_snapshots)
    returns -> stg_<source>__returns (fct_returns: what came back, why, in what state)
  Add a connector's source here once its staging models exist.
#}
{% macro unified_sources(kind) -%}
  {%- set sources = {
      'orders': ['sql_database', 'amazon', 'walmart'],
      'refunds': ['amazon', 'walmart'],
      'fees': ['amazon', 'walmart'],
      'inventory': ['amazon'],
      'returns': ['amazon', 'walmart'],
  } -%}
  {%- if kind not in sources -%}
    {{- exceptions.raise_compiler_error("OmniAnalytics: unified_sources() knows " ~ sources.keys() | join(', ')) -}}
  {%- endif -%}
  {{- return(sources[kind]) -}}
{%- endmacro %}
