{#- The whole system per New York service day: the sum of station_daily_ridership. `turnstiles` sums
    the stations' reporting turnstiles (a turnstile counts once per station it reported under that day). -#}
{{ config(**mta_mart.mart_incremental_config('service_date', ['service_date'])) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
{%- set weeks = mta_mart.mart_weeks_to_process() %}

select
    service_date,
    cast(sum(entries) as {{ dbt.type_bigint() }}) as entries,
    cast(sum(exits) as {{ dbt.type_bigint() }}) as exits,
    cast(count(*) as {{ dbt.type_bigint() }}) as stations,
    cast(sum(turnstiles_reporting) as {{ dbt.type_bigint() }}) as turnstiles,
    cast(sum(rejected_entries) as {{ dbt.type_bigint() }}) as rejected_entries,
    cast(sum(rejected_exits) as {{ dbt.type_bigint() }}) as rejected_exits
from {{ ref('station_daily_ridership') }}
{%- if weeks is not none %}
where service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
  and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
{%- endif %}
group by service_date
