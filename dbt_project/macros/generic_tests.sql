{% test exactly_one_row(model) %}
{#- The model holds exactly one row (the current tenant's registry entry must exist, and only once). -#}
select count(*) as n from {{ model }} having count(*) <> 1
{% endtest %}

{% test expression_holds(model, expression) %}
{#- Every row satisfies the SQL expression (rows that break it are returned). -#}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
