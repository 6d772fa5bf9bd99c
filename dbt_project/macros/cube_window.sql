{#
  The incremental window of an event-dated cube (models/cubes/). A cube row is a day's cell; it is rebuilt
  whole. Which days need rebuilding is decided from the events themselves, per channel: the cube remembers the
  latest event it has seen in each channel (max(last_event_at) of the tenant's cells), and every event later
  than that is new. The window starts at the local day of the earliest new event, minus `cube_lookback_days`
  (default 0; raise it to re-state days an upstream source corrected after the fact), and runs to the end.
  So a run after one new day of data rebuilds that day only, a channel whose source was down catches up from
  its own last event, and a run without new events rebuilds nothing.
  `--vars '{cube_rebuild: true}'` rebuilds the tenant's whole history. The window is computed once, before the
  model runs (run_query at execute time), so the delete and the insert agree on it.
#}

{% macro cube_window_start(events_sql) -%}
  {#- The first day to rebuild as 'YYYY-MM-DD', 'all' (whole history) or 'none' (nothing new). -#}
  {%- if not execute -%}
    {{- return('all') -}}
  {%- endif -%}
  {%- if not is_incremental() or var('cube_rebuild', false) -%}
    {{- return('all') -}}
  {%- endif -%}
  {%- set query -%}
    with seen as (
        select channel, max(last_event_at) as watermark
        from {{ this }}
        where tenant_id = '{{ current_tenant() }}'
        group by channel
    ),

    events as (
        {{ events_sql }}
    )

    select cast(min(events.event_date) as {{ dbt.type_string() }})
    from events
    left join seen
        on seen.channel = events.channel
    where seen.watermark is null or events.event_at > seen.watermark
  {%- endset -%}
  {%- set first_new = run_query(query).columns[0].values()[0] -%}
  {%- if first_new is none -%}
    {%- do log('OmniAnalytics: ' ~ this.identifier ~ ' for tenant ' ~ current_tenant()
               ~ ': no new events, nothing to rebuild', info=true) -%}
    {{- return('none') -}}
  {%- endif -%}
  {%- set lookback = var('cube_lookback_days', 0) | int -%}
  {%- set start = (modules.datetime.date.fromisoformat(first_new[:10])
                   - modules.datetime.timedelta(days=lookback)).isoformat() -%}
  {%- do log('OmniAnalytics: ' ~ this.identifier ~ ' for tenant ' ~ current_tenant() ~ ': rebuilding days from '
             ~ start ~ ' (first new event on ' ~ first_new[:10] ~ ', lookback ' ~ lookback ~ ' days)', info=true) -%}
  {{- return(start) -}}
{%- endmacro %}


{% macro cube_window_filter(column, window_start) -%}
  {#- The WHERE condition selecting the window's days of `column`. -#}
  {%- if window_start == 'all' -%}
    1 = 1
  {%- elif window_start == 'none' -%}
    1 = 0
  {%- else -%}
    {{ column }} >= cast('{{ window_start }}' as date)
  {%- endif -%}
{%- endmacro %}
