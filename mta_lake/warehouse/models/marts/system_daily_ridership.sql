{#- The whole system per New York service day and mode (subway, PATH, SIR, tram, bus; macros/modes.sql):
    the sum of station_daily_ridership's rows of that mode. The subway's row is the subway alone: PATH,
    the Staten Island Railway and the Roosevelt Island Tram have rows of their own. `turnstiles` sums the
    stations' reporting turnstiles (a turnstile counts once per station it reported under that day). -#}
{{ config(**mta_mart.mart_incremental_config('service_date', ['service_date', 'mode'])) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
{%- set weeks = mta_mart.mart_weeks_to_process() %}

select
    service_date,
    mode,
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
group by service_date, mode
