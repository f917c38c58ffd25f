{#- Blocking. Station-day totals = the sum of their counted intervals: each counted interval's day parts add
    up exactly to its count, and each station-day (and system day) is exactly the sum of the day parts of
    the intervals that overlap it.

    With `weeks` (an incremental run): every station-day of the processed weeks' service days recomputed
    from the intervals and compared, row by row.
    Without (a full rebuild): that recomputation over ~150 million intervals is the model itself again and
    spills many GB, so the identities are checked as aggregates that fit in memory: per turnstile and week,
    the day parts of the counted intervals add up to their counts; per service day, the system's entries
    and exits equal the day parts falling on that day, and the station-days add up to the system day. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'station_daily_ridership'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

{%- if weeks is none %}
with parts as (
    select * from {{ mta_mart.interval_day_parts(
        "(select * from " ~ ref('turnstile_intervals') ~ " where entries_rejection is null or exits_rejection is null)") }} as parts
),

split_mismatches as (
    select
        'interval split' as failure, cast(null as date) as service_date,
        {{ dbt.safe_cast('turnstile_id', dbt.type_string()) }} as subject,
        expected_entries, actual_entries, expected_exits, actual_exits
    from (
        select turnstile_id, week,
            sum(counted_entries) as expected_entries, sum(part_entries) as actual_entries,
            sum(counted_exits) as expected_exits, sum(part_exits) as actual_exits
        from (
            {#- Each counted interval once (its entries and exits), and each of its parts. -#}
            select turnstile_id, week, counted_entries, counted_exits, 0 as part_entries, 0 as part_exits
            from {{ ref('turnstile_intervals') }}
            union all
            select turnstile_id, week, 0, 0, part_entries, part_exits from parts
        ) as both_sides
        group by turnstile_id, week
    ) as turnstile_weeks
    where expected_entries <> actual_entries or expected_exits <> actual_exits
),

part_days as (
    select service_date, sum(part_entries) as entries, sum(part_exits) as exits from parts group by service_date
),

station_day_totals as (
    select service_date, sum(entries) as entries, sum(exits) as exits
    from {{ ref('station_daily_ridership') }}
    group by service_date
),

day_mismatches as (
    select
        'station days vs day parts' as failure, coalesce(expected.service_date, actual.service_date) as service_date,
        'ALL STATIONS' as subject,
        coalesce(expected.entries, 0) as expected_entries, coalesce(actual.entries, 0) as actual_entries,
        coalesce(expected.exits, 0) as expected_exits, coalesce(actual.exits, 0) as actual_exits
    from part_days as expected
    full outer join station_day_totals as actual on expected.service_date = actual.service_date
    where coalesce(expected.entries, 0) <> coalesce(actual.entries, 0)
       or coalesce(expected.exits, 0) <> coalesce(actual.exits, 0)
),

system_mismatches as (
    {{ mta_mart.system_day_mismatches(
        "(select service_date, mode, sum(entries) as entries, sum(exits) as exits
          from " ~ ref('station_daily_ridership') ~ " group by service_date, mode)",
        ref('system_daily_ridership')) }}
)

select * from split_mismatches
union all
select * from day_mismatches
union all
select * from system_mismatches
{%- else %}

with
scope as (
    select
        first_date,
        last_date,
        {{ mta_mart.local_midnight_utc('first_date') }} as scope_start_utc,
        {{ mta_mart.local_midnight_utc(dbt.dateadd('day', 1, 'last_date')) }} as scope_end_utc
    from {{ mta_mart.processed_service_dates(weeks) }} as processed
),
scoped_intervals as (
    {{ mta_mart.intervals_touching_scope() }}
),

parts as (
    select * from {{ mta_mart.interval_day_parts(
        "(select * from scoped_intervals where entries_rejection is null or exits_rejection is null)") }} as parts
),

turnstile_day_weeks as (
    {#- The week whose station a turnstile-day takes: the latest week among its counted parts and the
        rejected intervals ending that day (as the model). -#}
    select service_date, turnstile_id, week from parts
    union all
    select ended_service_date, turnstile_id, week from scoped_intervals
    where entries_rejection is not null or exits_rejection is not null
),

split_mismatches as (
    {#- Intervals whose day parts do not add up to their count (checked on intervals wholly in scope). -#}
    select
        'interval split' as failure, cast(null as date) as service_date,
        {{ dbt.safe_cast('turnstile_id', dbt.type_string()) }} as subject,
        max(counted_entries) as expected_entries, sum(part_entries) as actual_entries,
        max(counted_exits) as expected_exits, sum(part_exits) as actual_exits
    from parts
    group by turnstile_id, ended_at
    having sum(part_entries) <> max(counted_entries) or sum(part_exits) <> max(counted_exits)
),

expected_station_days as (
    {#- A turnstile's station on a day: its station in the latest week touching the day (as the model). -#}
    select turnstile_days.service_date, turnstiles.station_key as station,
        sum(turnstile_days.entries) as entries, sum(turnstile_days.exits) as exits
    from (
        select parts.service_date, parts.turnstile_id, max(weeks.week) as week,
            sum(parts.part_entries) as entries, sum(parts.part_exits) as exits
        from parts
        inner join (
            select service_date, turnstile_id, max(week) as week from turnstile_day_weeks group by service_date, turnstile_id
        ) as weeks
            on parts.service_date = weeks.service_date and parts.turnstile_id = weeks.turnstile_id
        group by parts.service_date, parts.turnstile_id
    ) as turnstile_days
    inner join {{ ref('turnstile_week_last_readings') }} as turnstiles
        on turnstile_days.turnstile_id = turnstiles.turnstile_id and turnstile_days.week = turnstiles.week
    where turnstile_days.service_date >= (select first_date from scope)
      and turnstile_days.service_date <= (select last_date from scope)
    group by turnstile_days.service_date, turnstiles.station_key
),

actual_station_days as (
    select service_date, station, mode, entries, exits
    from {{ ref('station_daily_ridership') }}
    where service_date >= (select first_date from scope) and service_date <= (select last_date from scope)
),

station_mismatches as (
    select
        'station day' as failure, coalesce(expected.service_date, actual.service_date) as service_date,
        coalesce(expected.station, actual.station) as subject,
        coalesce(expected.entries, 0) as expected_entries, coalesce(actual.entries, 0) as actual_entries,
        coalesce(expected.exits, 0) as expected_exits, coalesce(actual.exits, 0) as actual_exits
    from expected_station_days as expected
    full outer join actual_station_days as actual
        on expected.service_date = actual.service_date and expected.station = actual.station
    where coalesce(expected.entries, 0) <> coalesce(actual.entries, 0)
       or coalesce(expected.exits, 0) <> coalesce(actual.exits, 0)
),

system_mismatches as (
    {{ mta_mart.system_day_mismatches(
        "(select service_date, mode, sum(entries) as entries, sum(exits) as exits
          from actual_station_days group by service_date, mode)",
        "(select * from " ~ ref('system_daily_ridership') ~ "
          where service_date >= (select first_date from scope) and service_date <= (select last_date from scope))") }}
)

select * from split_mismatches
union all
select * from station_mismatches
union all
select * from system_mismatches
{%- endif %}

