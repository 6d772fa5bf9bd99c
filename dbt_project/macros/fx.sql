{#
  Reporting currency. Every fact keeps its money in the currency the channel reported it in (`currency`) and
  adds it converted to the tenant's reporting currency (dim_tenants.currency): `<amount>_reporting`, with the
  `fx_rate` used and `reporting_currency`. The rate is the day's rate of the fact's own event date from
  int_fx_rates_daily (units of reporting currency per unit of the fact's currency), and each amount is
  converted on its row, then rounded to the cent: amount_reporting = round(amount * fx_rate, 2). Sums of
  converted rows are therefore exact sums of cents (what reports add up), never a rate applied to a total.
  A fact in a currency without a rate for its day gets null reporting amounts, and the facts' not_null tests
  on *_reporting fail the build, naming the rows.

  Usage in a fact model:
      left join {{ ref('int_fx_rates_daily') }} as fx
          on fx.base_currency = facts.currency and fx.date_day = facts.order_date
      ...
      {{ fx_rate('facts.currency', 'tenant.reporting_currency', 'fx.rate') }} as fx_rate,
      {{ to_reporting('facts.amount', 'facts.currency', 'tenant.reporting_currency', 'fx.rate') }} as amount_reporting
#}

{% macro fx_rate(currency, reporting_currency, rate) -%}
  cast(case when {{ currency }} = {{ reporting_currency }} then 1 else {{ rate }} end as decimal(18, 8))
{%- endmacro %}


{% macro to_reporting(amount, currency, reporting_currency, rate) -%}
  {{ money(amount ~ ' * ' ~ fx_rate(currency, reporting_currency, rate)) }}
{%- endmacro %}
