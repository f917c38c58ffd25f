{#- Warning. A station whose week's entries exceed var station_week_jump_factor times its previous week's
    (and at least station_week_jump_min_entries). Rows carry both weeks' entries and the factor. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'station_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

with station_weeks as (
    select
        station,
        {#- The name on the week's last day (one row per station and day: no tie). -#}
        {{ mta_mart.value_at_max('station_name', 'service_date') }} as station_name,
        {{ mta_mart.week_start('service_date') }} as week,
        sum(entries) as entries
    from {{ ref('station_daily_ridership') }}
    {%- if weeks is not none %}
    {#- The run's weeks and the week before each: a scan of a few weeks, not of the history. -#}
    where service_date >= cast({{ dbt.dateadd('day', -7, "cast('" ~ (weeks | first) ~ "' as date)") }} as date)
      and service_date < cast({{ dbt.dateadd('day', 7, "cast('" ~ (weeks | last) ~ "' as date)") }} as date)
    {%- endif %}
    group by station, {{ mta_mart.week_start('service_date') }}
),

compared as (
    select
        station_weeks.*,
        lag(week) over (partition by station order by week) as previous_week,
        lag(entries) over (partition by station order by week) as previous_entries
    from station_weeks
)

select
    station, station_name, week, entries, previous_week, previous_entries,
    1.0 * entries / previous_entries as factor
from compared
where previous_week = cast({{ dbt.dateadd('day', -7, 'week') }} as date)
  and entries >= {{ var('station_week_jump_min_entries') }}
  and entries > {{ var('station_week_jump_factor') }} * previous_entries
  {%- if weeks is not none %}
  and week in ({{ mta_mart.date_literals(weeks) }})
  {%- endif %}
