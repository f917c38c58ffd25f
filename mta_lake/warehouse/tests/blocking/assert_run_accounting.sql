{#- Blocking. Per turnstile run (and counter): direction x counted + rejected movement = the run's last
    reading - its first reading, and a run has one direction per counter. Returns the runs that do not
    add up. (One aggregate, no join: the first and last readings are taken with value_at_min/max.) -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'turnstile_intervals'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}

with runs as (
    select
        turnstile_id, week, run_number, entries_accounted, exits_accounted,
        last_end.entries_end - first_start.entries_start as entries_moved,
        last_end.exits_end - first_start.exits_start as exits_moved,
        min_entries_direction, max_entries_direction, min_exits_direction, max_exits_direction
    from (
        select
            turnstile_id, week, run_number,
            sum(entries_direction * counted_entries + rejected_entries_movement) as entries_accounted,
            sum(exits_direction * counted_exits + rejected_exits_movement) as exits_accounted,
            {{ mta_mart.value_at_max(mta_mart.named_struct(['entries_end', 'exits_end']),
                                     ['ended_at', 'entries_end', 'exits_end', 'started_at']) }} as last_end,
            {{ mta_mart.value_at_min(mta_mart.named_struct(['entries_start', 'exits_start']),
                                     ['ended_at', 'entries_end', 'exits_end', 'started_at']) }} as first_start,
            min(entries_direction) as min_entries_direction,
            max(entries_direction) as max_entries_direction,
            min(exits_direction) as min_exits_direction,
            max(exits_direction) as max_exits_direction
        from {{ ref('turnstile_intervals') }}
        {%- if weeks is not none %}
        where week in ({{ mta_mart.date_literals(weeks) }})
        {%- endif %}
        group by turnstile_id, week, run_number
    ) as aggregated
)

select *
from runs
where entries_accounted <> entries_moved
   or exits_accounted <> exits_moved
   or min_entries_direction <> max_entries_direction
   or min_exits_direction <> max_exits_direction
