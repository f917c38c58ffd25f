{#- The last reading of each turnstile in each week: the predecessor of the turnstile's first reading in
    the next week it appears in. Lets an incremental run pair a new week's first readings without
    re-reading older weeks' Parquet (one row per turnstile-week: ~3.6 M rows for 2010-2024).
    Also the turnstile's station in that week (as of its last reading): turnstile_intervals takes its
    station columns from here, so its windows sort only numbers. -#}
{{ config(**mta_mart.mart_incremental_config('week', ['week', 'turnstile_id'])) }}
{%- set weeks = mta_mart.mart_weeks_to_process(this) %}

select
    week,
    turnstile_id,
    {#- One turnstile has one (control_area, unit, scp); its station does not change within a week in the
        files (max() makes the choice deterministic if it ever did). Strings are aggregated, not grouped
        on: grouping 150 million rows by an integer is the cheap part. -#}
    max(control_area) as control_area,
    max(unit) as unit,
    max(scp) as scp,
    max(station_key) as station_key,
    max(station) as station,
    max(line_names) as line_names,
    max(division) as division,
    max(observed_at_utc) as observed_at_utc,
    {{ mta_mart.value_at_max('service_date', ['observed_at_utc', 'entries', 'exits']) }} as service_date,
    {{ mta_mart.value_at_max('entries', ['observed_at_utc', 'entries', 'exits']) }} as entries,
    {{ mta_mart.value_at_max('exits', ['observed_at_utc', 'entries', 'exits']) }} as exits
from {{ mta_mart.staged_readings(weeks) }} as staged
group by week, turnstile_id
