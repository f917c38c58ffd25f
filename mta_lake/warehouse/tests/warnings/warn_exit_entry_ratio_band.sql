{#- Warning. The subway's exits / entries per week (Saturday to Friday, by service day) outside the band of
    its era (var exit_entry_ratio_bands: about 0.8 before 2020, about 1.8 in 2024). Rows carry the ratio. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'system_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

with bands as (
    {{ mta_mart.era_bands_sql(var('exit_entry_ratio_bands')) }}
),

weeks as (
    select
        {{ mta_mart.week_start('service_date') }} as week,
        sum(entries) as entries,
        sum(exits) as exits,
        count(*) as days
    from {{ ref('system_daily_ridership') }}
    where mode = 'subway'
    group by {{ mta_mart.week_start('service_date') }}
)

select
    weeks.week, weeks.entries, weeks.exits, weeks.days,
    1.0 * weeks.exits / weeks.entries as exit_entry_ratio,
    bands.band_min, bands.band_max
from weeks
inner join bands on weeks.week >= bands.era_from and weeks.week < bands.era_to
where weeks.entries > 0
  and (1.0 * weeks.exits / weeks.entries < bands.band_min or 1.0 * weeks.exits / weeks.entries > bands.band_max)
  {%- if weeks is not none %}
  and weeks.week in ({{ mta_mart.date_literals(weeks) }})
  {%- endif %}
