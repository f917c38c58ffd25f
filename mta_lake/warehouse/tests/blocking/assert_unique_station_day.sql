{#- Blocking. One row per (service_date, station) in station_daily_ridership, one per (service_date, mode) in
    system_daily_ridership. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'station_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
{%- set weeks = mta_mart.mart_test_weeks() %}
{%- set dates_filter %}
    {%- if weeks is not none %}
    where service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
      and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
    {%- endif %}
{%- endset %}

select service_date, station, count(*) as rows_for_station_day
from (select * from {{ ref('station_daily_ridership') }} {{ dates_filter }}) as days
group by service_date, station
having count(*) > 1
union all
select service_date, {{ dbt.concat(["'SYSTEM '", "mode"]) }}, count(*)
from (select * from {{ ref('system_daily_ridership') }} {{ dates_filter }}) as days
group by service_date, mode
having count(*) > 1
