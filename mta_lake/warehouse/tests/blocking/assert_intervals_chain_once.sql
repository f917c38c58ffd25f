{#- Blocking. No interval is counted in two weeks, and no reading is skipped or used twice: per turnstile,
    ordered by end, each interval starts at the reading (time and counters) where the previous one ended,
    and does not end before it starts (two readings at one instant give a zero-length interval, rejected
    as non_positive_duration, still part of the chain).

    With `weeks` (an incremental run): checked directly with a window over the processed weeks plus the
    8 days before them (the boundary with the previous week); a second interval with the same end or the
    same start breaks the chain, so uniqueness needs no separate count.
    Without (a full rebuild: ~150 million intervals, where a window would spill for minutes): checked per
    turnstile by telescoping, one aggregate. Intervals form one chain exactly when, for every function f
    of time, the sum of f(end) - f(start) equals f(last end) - f(first start); it is checked for f(t) = t
    and f(t) = (t mod 1,000,003)^2 (t in seconds since 2000), and for the counters: an interval counted
    twice, a skipped or reused reading, or an overlap all break at least one of them. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'turnstile_intervals'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

{%- if weeks is not none %}
select * from (
    select
        intervals.*,
        lag(ended_at) over turnstile_history as previous_ended_at,
        lag(entries_end) over turnstile_history as previous_entries_end,
        lag(exits_end) over turnstile_history as previous_exits_end
    from {{ ref('turnstile_intervals') }} as intervals
    where ended_at >= (
        select {{ dbt.dateadd('day', -8, 'min(started_at)') }}
        from {{ ref('turnstile_intervals') }}
        where week in ({{ mta_mart.date_literals(weeks) }})
    )
    window turnstile_history as (partition by turnstile_id order by ended_at, entries_end, exits_end, started_at)
) as chained
where started_at > ended_at
   or (previous_ended_at is not null and (
        previous_ended_at <> started_at
        or previous_entries_end <> entries_start
        or previous_exits_end <> exits_start))
{%- else %}
{%- set epoch = "cast('2000-01-01' as timestamp)" %}
with timed as (
    select
        turnstile_id, started_at, ended_at, seconds, entries_start, entries_end, exits_start, exits_end,
        {{ dbt.datediff(epoch, 'started_at', 'second') }} as start_second,
        {{ dbt.datediff(epoch, 'ended_at', 'second') }} as end_second
    from {{ ref('turnstile_intervals') }}
),

turnstiles as (
    {#- The last interval's end and the first interval's start, each taken whole in one aggregate (an
        arg_max with a four-column key is the costly part: one of each, not three). -#}
    select
        turnstile_id, shortest_seconds, summed_seconds, span_seconds, summed_squares,
        last_end.end_square - first_start.start_square as span_squares,
        summed_entries, last_end.entries_end - first_start.entries_start as span_entries,
        summed_exits, last_end.exits_end - first_start.exits_start as span_exits
    from (
        select
            turnstile_id,
            min(seconds) as shortest_seconds,
            sum(end_second - start_second) as summed_seconds,
            max(end_second) - min(start_second) as span_seconds,
            sum(end_square - start_square) as summed_squares,
            {{ mta_mart.value_at_max(mta_mart.named_struct(['end_square', 'entries_end', 'exits_end']),
                                     ['ended_at', 'entries_end', 'exits_end', 'started_at']) }} as last_end,
            {{ mta_mart.value_at_min(mta_mart.named_struct(['start_square', 'entries_start', 'exits_start']),
                                     ['ended_at', 'entries_end', 'exits_end', 'started_at']) }} as first_start,
            sum(entries_end - entries_start) as summed_entries,
            sum(exits_end - exits_start) as summed_exits
        from (
            select
                timed.*,
                mod(end_second, 1000003) * mod(end_second, 1000003) as end_square,
                mod(start_second, 1000003) * mod(start_second, 1000003) as start_square
            from timed
        ) as squared
        group by turnstile_id
    ) as aggregated
)

select *
from turnstiles
where shortest_seconds < 0
   or summed_seconds <> span_seconds
   or summed_squares <> span_squares
   or summed_entries <> span_entries
   or summed_exits <> span_exits
{%- endif %}
