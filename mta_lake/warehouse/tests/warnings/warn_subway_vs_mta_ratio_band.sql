{#- Warning. A day whose subway entries or exits, divided by the MTA's published daily subway ridership
    (subway_vs_mta_daily), leave the band of its era (var mta_daily_ratio_bands). Rows carry the day, both
    figures and the ratios, and the band.

    A comparison with nothing to compare is not a pass: when none of the days this run examines (an
    incremental run: the service days of its weeks; a full build: every day) is in the MTA's file, the one
    row returned says so (failure 'nothing to compare', with the first and last day examined; the file
    covers 2020-03-01 .. 2024-11-14). The Dagster layer reports that check as skipped. -#}
{{ config(meta={'dagster': {'ref': {'name': 'subway_vs_mta_daily'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
-- depends_on: {{ ref('turnstile_intervals') }}
-- depends_on: {{ ref('mta_daily_ridership') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

with bands as (
    {%- set ordered = var('mta_daily_ratio_bands') | sort(attribute='from') %}
    {%- for band in ordered %}
    select
        cast('{{ band["from"] }}' as date) as era_from,
        cast('{{ ordered[loop.index]["from"] if not loop.last else "9999-12-31" }}' as date) as era_to,
        {{ band["entries_min"] }} as entries_min,
        {{ band["entries_max"] }} as entries_max,
        {{ band["exits_min"] }} as exits_min,
        {{ band["exits_max"] }} as exits_max
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

examined as (
    {#- The subway days this run examines, compared or not. -#}
    select service_date
    from {{ ref('system_daily_ridership') }}
    where mode = 'subway'
    {%- if weeks is not none %}
      and service_date >= (select first_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
      and service_date <= (select last_date from {{ mta_mart.processed_service_dates(weeks) }} as processed)
    {%- endif %}
),

compared as (
    select days.*
    from {{ ref('subway_vs_mta_daily') }} as days
    where days.service_date in (select service_date from examined)
),

out_of_band as (
    select
        'ratio out of band' as failure,
        compared.service_date,
        compared.mart_entries,
        compared.mart_exits,
        compared.mta_subway_ridership,
        compared.entries_ratio,
        compared.exits_ratio,
        bands.era_from,
        bands.entries_min,
        bands.entries_max,
        bands.exits_min,
        bands.exits_max,
        (select min(service_date) from examined) as examined_from,
        (select max(service_date) from examined) as examined_to
    from compared
    inner join bands on compared.service_date >= bands.era_from and compared.service_date < bands.era_to
    where compared.entries_ratio < bands.entries_min or compared.entries_ratio > bands.entries_max
       or compared.exits_ratio < bands.exits_min or compared.exits_ratio > bands.exits_max
),

nothing_to_compare as (
    {#- One row naming what was examined and what the MTA's file covers, when no day overlaps. -#}
    select
        'nothing to compare' as failure,
        cast(null as date) as service_date,
        cast(null as {{ dbt.type_bigint() }}) as mart_entries,
        cast(null as {{ dbt.type_bigint() }}) as mart_exits,
        cast(null as {{ dbt.type_bigint() }}) as mta_subway_ridership,
        cast(null as {{ dbt.type_float() }}) as entries_ratio,
        cast(null as {{ dbt.type_float() }}) as exits_ratio,
        cast(null as date) as era_from,
        cast(null as {{ dbt.type_float() }}) as entries_min,
        cast(null as {{ dbt.type_float() }}) as entries_max,
        cast(null as {{ dbt.type_float() }}) as exits_min,
        cast(null as {{ dbt.type_float() }}) as exits_max,
        (select min(service_date) from examined) as examined_from,
        (select max(service_date) from examined) as examined_to
    from (select count(*) as days from compared) as counted
    where counted.days = 0
)

select * from out_of_band
union all
select * from nothing_to_compare
