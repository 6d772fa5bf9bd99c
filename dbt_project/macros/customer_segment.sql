{#- The customer segment of an order (or of its lines), fixed when the order is placed so the cubes never need
    re-stating: cancelled / unidentified (no customer identity) / new (the customer's first non-cancelled
    order) / returning. `rel` is the relation alias carrying is_cancelled and customer_order_number. -#}
{% macro customer_segment(rel) -%}
    case
        when {{ rel }}.is_cancelled then 'cancelled'
        when {{ rel }}.customer_order_number is null then 'unidentified'
        when {{ rel }}.customer_order_number = 1 then 'new'
        else 'returning'
    end
{%- endmacro %}
