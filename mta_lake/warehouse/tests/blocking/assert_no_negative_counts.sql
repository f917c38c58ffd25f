{#- Blocking. No negative count anywhere: counted intervals, station-days, system days. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'station_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}
{%- set dates_filter %}
    {%- if weeks is not none %}
    where service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
      and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
    {%- endif %}
{%- endset %}

select 'turnstile_intervals' as model, cast(ended_at as date) as day, counted_entries as entries, counted_exits as exits
from {{ ref('turnstile_intervals') }}
where (counted_entries < 0 or counted_exits < 0)
{%- if weeks is not none %} and week in ({{ mta_mart.date_literals(weeks) }}){% endif %}
union all
select 'station_daily_ridership', service_date, entries, exits
from (select * from {{ ref('station_daily_ridership') }} {{ dates_filter }}) as days
where entries < 0 or exits < 0 or rejected_entries < 0 or rejected_exits < 0
union all
select 'system_daily_ridership', service_date, entries, exits
from (select * from {{ ref('system_daily_ridership') }} {{ dates_filter }}) as days
where entries < 0 or exits < 0
