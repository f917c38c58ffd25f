{#- Station-days (station_daily_ridership's rows) of the service dates first_date .. last_date (SQL date
    expressions), from every interval overlapping them. See models/marts/station_daily_ridership.sql. -#}
{% macro station_day_rows(first_date, last_date) -%}
with
scope as (
    select
        first_date,
        last_date,
        {{ mta_mart.local_midnight_utc('first_date') }} as scope_start_utc,
        {{ mta_mart.local_midnight_utc(dbt.dateadd('day', 1, 'last_date')) }} as scope_end_utc
    from (select {{ first_date }} as first_date, {{ last_date }} as last_date) as dates
),

scoped_intervals as (
    {{ mta_mart.intervals_touching_scope() }}
),

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
    where service_date >= (select first_date from scope) and service_date <= (select last_date from scope)
    group by service_date, turnstile_id
),

stationed as (
    select turnstile_days.*, turnstiles.station_key
    from turnstile_days
    inner join {{ ref('turnstile_week_last_readings') }} as turnstiles
        on turnstile_days.turnstile_id = turnstiles.turnstile_id and turnstile_days.week = turnstiles.week
),

station_days as (
    select
        service_date,
        station_key as station,
        {#- The week whose labels the station-day carries: the latest week of its turnstile-days. -#}
        max(week) as label_week,
        cast(sum(entries) as {{ dbt.type_bigint() }}) as entries,
        cast(sum(exits) as {{ dbt.type_bigint() }}) as exits,
        cast(count(*) as {{ dbt.type_bigint() }}) as turnstiles_reporting,
        cast(sum(rejected_entries) as {{ dbt.type_bigint() }}) as rejected_entries,
        cast(sum(rejected_exits) as {{ dbt.type_bigint() }}) as rejected_exits,
        cast(sum(rejected_intervals) as {{ dbt.type_bigint() }}) as rejected_intervals,
        sum(covered_seconds) as covered_seconds
    from stationed
    group by service_date, station_key
),

station_labels as (
    {{ mta_mart.station_week_labels(
        "(select distinct label_week from station_days)") }}
)

select
    station_days.service_date,
    station_days.station,
    station_labels.station_name,
    station_labels.line_names,
    station_labels.division,
    station_labels.mode,
    station_days.entries,
    station_days.exits,
    station_days.turnstiles_reporting,
    station_days.rejected_entries,
    station_days.rejected_exits,
    station_days.rejected_intervals,
    1.0 * station_days.covered_seconds / (
        station_days.turnstiles_reporting * {{ dbt.datediff(
            mta_mart.local_midnight_utc('station_days.service_date'),
            mta_mart.local_midnight_utc(dbt.dateadd('day', 1, 'station_days.service_date')),
            'second') }}
    ) as coverage
from station_days
inner join station_labels
    on station_days.label_week = station_labels.week and station_days.station = station_labels.station
{%- endmacro %}

{#- The intervals a recomputation of the service dates of `scope` (first_date .. last_date, and their UTC
    bounds) needs: every interval overlapping those days, and every interval ENDING on one of them. An
    interval that ends exactly at the first day's midnight overlaps none of it, but its rejected movement
    is booked to the day it ends (ended_service_date) and its week can be a turnstile-day's week: a full
    rebuild sees it, so an incremental run must too (a `>` here once dropped them: 437 station-days of a
    rebuild differed from the incremental weeks). -#}
{% macro intervals_touching_scope() -%}
    select turnstile_intervals.*
    from {{ ref('turnstile_intervals') }} as turnstile_intervals
    cross join scope
    where turnstile_intervals.ended_at >= scope.scope_start_utc
      and turnstile_intervals.started_at < scope.scope_end_utc
{%- endmacro %}

{#- The labels (station_name, line_names, division, mode) of each station in each week of `weeks` (a
    subquery of one column of weeks): one row per (week, station). The rule, the same in a full rebuild
    and in an incremental run (it reads only turnstile_week_last_readings, whose week rows never change
    once loaded): among the station's turnstiles in that week (each with its labels as of its last reading
    that week), the combination of labels the most turnstiles carry; a tie goes to the greatest
    combination in text order (station_name, then line_names, division, mode; a missing value lowest).
    So the labels of a station never depend on row order, nor on which of its turnstiles reported that day. -#}
{% macro station_week_labels(weeks) -%}
    select
        week,
        station_key as station,
        {{ mta_mart.value_at_max('station_name', ['turnstiles'] + mta_mart.label_order_keys()) }} as station_name,
        {{ mta_mart.value_at_max('line_names', ['turnstiles'] + mta_mart.label_order_keys()) }} as line_names,
        {{ mta_mart.value_at_max('division', ['turnstiles'] + mta_mart.label_order_keys()) }} as division,
        {{ mta_mart.value_at_max('mode', ['turnstiles'] + mta_mart.label_order_keys()) }} as mode
    from (
        select
            week, station_key, station as station_name, line_names, division, mode,
            count(*) as turnstiles
        from {{ ref('turnstile_week_last_readings') }}
        where week in {{ weeks }}
        group by week, station_key, station, line_names, division, mode
    ) as combinations
    group by week, station_key
{%- endmacro %}

{% macro label_order_keys() -%}
    {{ return(["coalesce(station_name, '')", "coalesce(line_names, '')", "coalesce(division, '')",
               "coalesce(mode, '')"]) }}
{%- endmacro %}

{#- The date ranges of a full rebuild of station_daily_ridership: one per batch of loaded weeks
    (rebuild_batches), consecutive and together covering every date: [first day of the batch's first week,
    the day before the next batch's], the first open to the past and the last to the future (as SQL date
    literals, for station_day_rows). -#}
{% macro station_day_batch_ranges() -%}
    {%- set ranges = [] -%}
    {%- set batches = mta_mart.rebuild_batches() -%}
    {%- for batch in batches -%}
        {%- set first = "cast('1900-01-01' as date)" if loop.first or batch is none else "cast('" ~ (batch | first) ~ "' as date)" -%}
        {%- set last = "cast('2999-12-31' as date)" if loop.last else
            "cast(" ~ dbt.dateadd('day', -1, "cast('" ~ (batches[loop.index] | first) ~ "' as date)") ~ " as date)" -%}
        {%- do ranges.append([first, last]) -%}
    {%- endfor -%}
    {{ return(ranges) }}
{%- endmacro %}

{#- Post-hook of station_daily_ridership: insert the days of every rebuild range that has no row yet. After a
    full rebuild's first range: all the others. After an incremental run: nothing, found by one probe per
    range (its first row), not a count. -#}
{% macro insert_missing_station_day_batches() -%}
    {%- if not execute -%}{{ return("select 1") }}{%- endif -%}
    {%- for range in mta_mart.station_day_batch_ranges() -%}
        {%- set present = run_query("select count(*) from (select 1 from " ~ this ~ " where service_date between "
            ~ range[0] ~ " and " ~ range[1] ~ " limit 1) as probe").columns[0].values()[0] -%}
        {%- if present == 0 -%}
            {%- do run_query("insert into " ~ this ~ " " ~ mta_mart.station_day_rows(range[0], range[1])) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return("select 1") }}
{%- endmacro %}
