{#- Entries and exits per station (the clean layer's normalised station_key) and New York service day.

    - entries / exits: the counted intervals' counts, split across midnights in proportion to time
      (interval_day_parts), whole numbers that add up exactly to the counted intervals.
    - rejected_entries / rejected_exits: the size (magnitude) of the counter movement rejected in the
      intervals that end on this day; a diagnostic, never part of entries/exits.
      rejected_intervals: how many intervals ending on this day had a counter rejected.
    - turnstiles_reporting: turnstiles with a counted interval overlapping the day or a rejected interval
      ending on it.
    - coverage: counted entries-interval seconds within the day / (turnstiles_reporting x the day's
      seconds, 23 h / 24 h / 25 h). 1.0 = every reporting turnstile counted all day.
    - An incremental run recomputes whole service days: every day an interval of the processed weeks
      overlaps, from every interval (of any week) overlapping those days. -#}
{{ config(**mta_mart.mart_incremental_config('service_date', ['service_date', 'station'])) }}
{%- set weeks = mta_mart.mart_weeks_to_process() %}

with
{%- if weeks is not none %}
scope as (
    select
        first_date,
        last_date,
        {{ mta_mart.local_midnight_utc('first_date') }} as scope_start_utc,
        {{ mta_mart.local_midnight_utc(dbt.dateadd('day', 1, 'last_date')) }} as scope_end_utc
    from {{ mta_mart.processed_service_dates(weeks) }} as processed
),

scoped_intervals as (
    select turnstile_intervals.*
    from {{ ref('turnstile_intervals') }} as turnstile_intervals
    cross join scope
    where turnstile_intervals.ended_at > scope.scope_start_utc
      and turnstile_intervals.started_at < scope.scope_end_utc
),
{%- else %}
scoped_intervals as (
    select * from {{ ref('turnstile_intervals') }}
),
{%- endif %}

counted_parts as (
    select
        service_date, turnstile_id, week,
        part_entries as entries,
        part_exits as exits,
        case when entries_rejection is null then part_seconds else 0 end as covered_seconds,
        0 as rejected_entries,
        0 as rejected_exits,
        0 as rejected_intervals
    from {{ mta_mart.interval_day_parts(
        "(select * from scoped_intervals where entries_rejection is null or exits_rejection is null)") }} as parts
),

rejected_parts as (
    select
        ended_service_date as service_date, turnstile_id, week,
        0 as entries,
        0 as exits,
        0 as covered_seconds,
        case when rejected_entries_movement < 0 then -rejected_entries_movement else rejected_entries_movement end
            as rejected_entries,
        case when rejected_exits_movement < 0 then -rejected_exits_movement else rejected_exits_movement end
            as rejected_exits,
        1 as rejected_intervals
    from scoped_intervals
    where entries_rejection is not null or exits_rejection is not null
),

day_parts as (
    select * from counted_parts
    union all
    select * from rejected_parts
),

turnstile_days as (
    {#- Numbers only, per turnstile and day; the station joins after this (~25 x fewer rows). A turnstile's
        station that day is its station in the latest week touching the day. -#}
    select
        service_date,
        turnstile_id,
        max(week) as week,
        sum(entries) as entries,
        sum(exits) as exits,
        sum(covered_seconds) as covered_seconds,
        sum(rejected_entries) as rejected_entries,
        sum(rejected_exits) as rejected_exits,
        sum(rejected_intervals) as rejected_intervals
    from day_parts
    {%- if weeks is not none %}
    where service_date >= (select first_date from scope) and service_date <= (select last_date from scope)
    {%- endif %}
    group by service_date, turnstile_id
),

stationed as (
    select turnstile_days.*, turnstiles.station_key, turnstiles.station, turnstiles.line_names, turnstiles.division
    from turnstile_days
    inner join {{ ref('turnstile_week_last_readings') }} as turnstiles
        on turnstile_days.turnstile_id = turnstiles.turnstile_id and turnstile_days.week = turnstiles.week
),

station_days as (
    select
        service_date,
        station_key as station,
        {{ mta_mart.value_at_max('station', 'week') }} as station_name,
        {{ mta_mart.value_at_max('line_names', 'week') }} as line_names,
        {{ mta_mart.value_at_max('division', 'week') }} as division,
        cast(sum(entries) as {{ dbt.type_bigint() }}) as entries,
        cast(sum(exits) as {{ dbt.type_bigint() }}) as exits,
        cast(count(*) as {{ dbt.type_bigint() }}) as turnstiles_reporting,
        cast(sum(rejected_entries) as {{ dbt.type_bigint() }}) as rejected_entries,
        cast(sum(rejected_exits) as {{ dbt.type_bigint() }}) as rejected_exits,
        cast(sum(rejected_intervals) as {{ dbt.type_bigint() }}) as rejected_intervals,
        sum(covered_seconds) as covered_seconds
    from stationed
    group by service_date, station_key
)

select
    service_date,
    station,
    station_name,
    line_names,
    division,
    entries,
    exits,
    turnstiles_reporting,
    rejected_entries,
    rejected_exits,
    rejected_intervals,
    1.0 * covered_seconds / (
        turnstiles_reporting * {{ dbt.datediff(
            mta_mart.local_midnight_utc('service_date'),
            mta_mart.local_midnight_utc(dbt.dateadd('day', 1, 'service_date')),
            'second') }}
    ) as coverage
from station_days
