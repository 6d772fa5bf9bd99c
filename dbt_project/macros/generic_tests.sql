{% test exactly_one_row(model) %}
{#- The model holds exactly one row (e.g. the current tenant's registry entry: it must exist, and only once). -#}
select count(*) as row_count from {{ model }} having count(*) <> 1
{% endtest %}


{% test expression_holds(model, expression) %}
{#- Every row satisfies the SQL expression; the rows that break it (or make it null) are returned. -#}
select * from {{ model }} where not coalesce({{ expression }}, false)
{% endtest %}


{% test unique_combination(model, columns) %}
  {#- No two rows share the same values of `columns` (a composite grain); returns each duplicated combination. -#}
  select {{ columns | join(', ') }}, count(*) as n_rows
  from {{ model }}
  group by {{ columns | join(', ') }}
  having count(*) > 1
{% endtest %}
