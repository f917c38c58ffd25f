{#- Warning. The subway's entries per service day outside the plausible band of its era (var
    system_entries_bands). Each returned row carries the figure: entries, and the band. The first and
    last days of a partial history are partial and may be reported. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'system_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

with bands as (
    {{ mta_mart.era_bands_sql(var('system_entries_bands')) }}
),

days as (
    select * from {{ ref('system_daily_ridership') }}
    where mode = 'subway'
    {%- if weeks is not none %}
      and service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
      and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
    {%- endif %}
)

select days.service_date, days.entries, bands.era_from, bands.band_min, bands.band_max
from days
inner join bands on days.service_date >= bands.era_from and days.service_date < bands.era_to
where days.entries < bands.band_min or days.entries > bands.band_max
