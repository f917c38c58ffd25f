{#- Splitting intervals into New York service days.

    A counted interval is split across each local midnight it spans, in proportion to elapsed (UTC) time,
    so a 23- or 25-hour day gets 23 or 25 hours' worth. Counts stay whole and exact: the part from
    offset a to offset b (seconds from the interval's start) gets
        floor(count * b / seconds) - floor(count * a / seconds),
    which sums over the parts to exactly the interval's count (the floors telescope). The division is
    done in floating point: with counts and seconds far below 2^53 the quotient of two integers is exact
    when whole and at least 1/seconds away from a whole number otherwise, so floor() never misses.

    `intervals` is a relation (or subquery) with turnstile_intervals' columns. The result has one row per
    interval and service day it overlaps: the interval's identifying, station and count columns, then
    service_date, part_entries, part_exits, part_seconds (the day's allotted counts and seconds). -#}
{% macro interval_day_parts(intervals) -%}
{#- A counted interval lasts at most mart_max_gap_hours; the shortest day has 23 hours. -#}
{%- set most_days = ((var('mart_max_gap_hours') | float) / 23) | round(0, 'ceil') | int + 1 -%}
{%- set columns = 'turnstile_id, week, started_at, ended_at, seconds, counted_entries, counted_exits, entries_rejection, exits_rejection' -%}
(
    {#- Most intervals (about five in six) lie within one day: they are that day's part whole, with no
        time-zone arithmetic. -#}
    select
        {{ columns }},
        started_service_date as service_date,
        counted_entries as part_entries,
        counted_exits as part_exits,
        seconds as part_seconds
    from {{ intervals }} as same_day
    where same_day.started_service_date = same_day.ended_service_date

    union all

    select
        {{ columns }},
        service_date,
        cast(floor(counted_entries * seconds_to_part_end / (1.0 * seconds)) as {{ dbt.type_bigint() }})
        - cast(floor(counted_entries * seconds_to_part_start / (1.0 * seconds)) as {{ dbt.type_bigint() }})
            as part_entries,
        cast(floor(counted_exits * seconds_to_part_end / (1.0 * seconds)) as {{ dbt.type_bigint() }})
        - cast(floor(counted_exits * seconds_to_part_start / (1.0 * seconds)) as {{ dbt.type_bigint() }})
            as part_exits,
        seconds_to_part_end - seconds_to_part_start as part_seconds
    from (
        select
            days.*,
            {{ dbt.datediff('started_at', 'part_start', 'second') }} as seconds_to_part_start,
            {{ dbt.datediff('started_at', 'part_end', 'second') }} as seconds_to_part_end
        from (
            select
                dated.*,
                case when day_start_utc > started_at then day_start_utc else started_at end as part_start,
                case when day_end_utc < ended_at then day_end_utc else ended_at end as part_end
            from (
                select
                    crossing.*,
                    cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'crossing.started_service_date') }}
                        as date) as service_date,
                    {{ mta_mart.local_midnight_utc(dbt.dateadd('day', 'day_offsets.day_offset', 'crossing.started_service_date')) }}
                        as day_start_utc,
                    {{ mta_mart.local_midnight_utc(dbt.dateadd('day', 'day_offsets.day_offset + 1', 'crossing.started_service_date')) }}
                        as day_end_utc
                from {{ intervals }} as crossing
                cross join (
                    {%- for offset in range(most_days) %}
                    select {{ offset }} as day_offset{{ " union all" if not loop.last }}
                    {%- endfor %}
                ) as day_offsets
                where crossing.started_service_date <> crossing.ended_service_date
                  and day_offsets.day_offset
                    <= {{ dbt.datediff('crossing.started_service_date', 'crossing.ended_service_date', 'day') }}
            ) as dated
        ) as days
    ) as spans
    where seconds_to_part_end > seconds_to_part_start
)
{%- endmacro %}

{#- The service dates an incremental run recomputes: every local date that an interval of the processed
    weeks overlaps. Returns a subquery with one row: first_date, last_date. -#}
{% macro processed_service_dates(weeks) -%}
(
    select
        min(started_service_date) as first_date,
        max(ended_service_date) as last_date
    from {{ ref('turnstile_intervals') }}
    where week in ({{ mta_mart.date_literals(weeks) }})
)
{%- endmacro %}
