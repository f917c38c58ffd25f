{#- The last reading of each turnstile in each week: the predecessor of the turnstile's first reading in
    the next week it appears in. Lets an incremental run pair a new week's first readings without
    re-reading older weeks' Parquet (one row per turnstile-week: ~3.6 M rows for 2010-2024).
    Also the turnstile's station in that week (as of its last reading) and its mode (macros/modes.sql:
    its division, else its remote, else subway): turnstile_intervals takes its station columns from here,
    so its windows sort only numbers; station_daily_ridership takes each station's labels from here. -#}
{{ config(**mta_mart.mart_incremental_config('week', ['week', 'turnstile_id'])) }}
{%- set weeks = mta_mart.mart_weeks_to_process(this) %}

select
    week, turnstile_id, control_area, unit, scp, station_key, station, line_names, division,
    {{ mta_mart.turnstile_mode('division', 'unit') }} as mode,
    observed_at_utc,
    last_reading.service_date as service_date,
    last_reading.entries as entries,
    last_reading.exits as exits
from (
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
        {#- The last reading's date and counters in one aggregate: an arg_max with a three-column key costs
            about 7 s over the history, so one of them, not three. -#}
        {{ mta_mart.value_at_max(mta_mart.named_struct(['service_date', 'entries', 'exits']),
                                 ['observed_at_utc', 'entries', 'exits']) }} as last_reading
    from {{ mta_mart.staged_readings(weeks) }} as staged
    group by week, turnstile_id
) as last_readings
