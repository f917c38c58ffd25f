{#- Warning. Station-days whose counted intervals cover less than var low_coverage_share of their
    reporting turnstiles' hours (their entries are an undercount). Rows carry the coverage. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'station_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

select service_date, station, station_name, entries, exits, turnstiles_reporting, coverage
from {{ ref('station_daily_ridership') }}
where coverage < {{ var('low_coverage_share') }}
  and turnstiles_reporting >= {{ var('low_coverage_min_turnstiles') }}
  {%- if weeks is not none %}
  and service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
  and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
  {%- endif %}
