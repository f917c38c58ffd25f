{#- The rows of turnstile_intervals whose later reading is in `readings` with is_applied = 1.
    `readings`: a subquery of (turnstile_id, week, observed_at_utc, service_date, entries, exits,
    is_applied), holding the applied readings and, with is_applied = 0, each turnstile's predecessor
    reading(s) from before them. See models/marts/turnstile_intervals.sql for the rules. -#}
{% macro interval_rows(readings) -%}
{%- set max_gap_seconds = (var('mart_max_gap_hours') | float * 3600) | int %}
{%- set rate_floor_seconds = (var('mart_rate_floor_hours') | float * 3600) | int %}
{%- set max_per_hour = var('mart_max_count_per_hour') | float %}
with readings as (
    select * from {{ readings }} as batch_readings
),

paired as (
    select
        turnstile_id, week, is_applied,
        lag(observed_at_utc) over turnstile_history as started_at,
        observed_at_utc as ended_at,
        lag(service_date) over turnstile_history as started_service_date,
        service_date as ended_service_date,
        lag(week) over turnstile_history as started_week,
        lag(entries) over turnstile_history as entries_start,
        entries as entries_end,
        lag(exits) over turnstile_history as exits_start,
        exits as exits_end
    from readings
    {# Time, then counters: two readings at one instant (a local time inside the spring-forward gap maps onto
        the next hour) still have one order, the same in every model and test. #}
    window turnstile_history as (partition by turnstile_id order by observed_at_utc, entries, exits)
),

flagged as (
    select
        measured.*,
        case when seconds <= 0 then 1 else 0 end as is_non_positive,
        case when seconds > {{ max_gap_seconds }} then 1 else 0 end as is_long_gap,
        case when entries_movement > plausible_limit or entries_movement < -plausible_limit then 1 else 0 end
            as is_entries_implausible,
        case when exits_movement > plausible_limit or exits_movement < -plausible_limit then 1 else 0 end
            as is_exits_implausible
    from (
        select
            paired.*,
            {{ dbt.datediff('started_at', 'ended_at', 'second') }} as seconds,
            entries_end - entries_start as entries_movement,
            exits_end - exits_start as exits_movement,
            {#- The largest plausible movement over this interval (short intervals judged as rate_floor long). -#}
            {{ max_per_hour }} / 3600.0 * greatest(
                {{ dbt.datediff('started_at', 'ended_at', 'second') }}, {{ rate_floor_seconds }}) as plausible_limit
        from paired
        where started_at is not null and is_applied = 1
    ) as measured
),

starts as (
    select
        turnstile_id, week, started_at, ended_at, started_service_date, ended_service_date, seconds,
        entries_start, entries_end, exits_start, exits_end, entries_movement, exits_movement,
        is_non_positive, is_long_gap, is_entries_implausible, is_exits_implausible,
        case
            when is_non_positive = 1 or is_long_gap = 1 or is_entries_implausible = 1 or is_exits_implausible = 1
            then 1 else 0
        end as is_break,
        case when started_week <> week then 1 else 0 end as is_week_start,
        case when is_non_positive = 0 and is_long_gap = 0 and is_entries_implausible = 0 then 1 else 0 end
            as is_entries_usable,
        case when is_non_positive = 0 and is_long_gap = 0 and is_exits_implausible = 0 then 1 else 0 end
            as is_exits_usable
    from flagged
),

turnstile_weeks as (
    {#- Most turnstile-weeks are one run: no break inside the week (the week's first interval, from the
        previous week's last reading, starts the run). Their run and directions come from this aggregate;
        only the others need a window to number their runs (a second sort of every interval otherwise). -#}
    select
        turnstile_id, week,
        max(is_break) as has_break,
        max(is_week_start) as run_number,
        {{ mta_mart.majority_direction('entries') }} as entries_direction,
        {{ mta_mart.majority_direction('exits') }} as exits_direction
    from starts
    group by turnstile_id, week
),

one_run as (
    select starts.*, turnstile_weeks.run_number, turnstile_weeks.entries_direction, turnstile_weeks.exits_direction
    from starts
    inner join turnstile_weeks
        on starts.turnstile_id = turnstile_weeks.turnstile_id and starts.week = turnstile_weeks.week
    where turnstile_weeks.has_break = 0
),

numbered as (
    {#- Turnstile-weeks with a break: a run is numbered by the breaks (and the week start) up to it. -#}
    select
        starts.*,
        cast(sum(case when starts.is_break = 1 or starts.is_week_start = 1 then 1 else 0 end) over (
            partition by starts.turnstile_id, starts.week
            order by starts.ended_at, starts.entries_end, starts.exits_end, starts.started_at
            rows between unbounded preceding and current row
        ) as {{ dbt.type_int() }}) as run_number
    from starts
    inner join turnstile_weeks
        on starts.turnstile_id = turnstile_weeks.turnstile_id and starts.week = turnstile_weeks.week
    where turnstile_weeks.has_break = 1
),

runs as (
    {#- The counting direction of each run and counter: the majority sign of its plausible movements. -#}
    select
        turnstile_id, week, run_number,
        {{ mta_mart.majority_direction('entries') }} as entries_direction,
        {{ mta_mart.majority_direction('exits') }} as exits_direction
    from numbered
    group by turnstile_id, week, run_number
),

directed as (
    select * from one_run
    union all
    select numbered.*, runs.entries_direction, runs.exits_direction
    from numbered
    inner join runs
        on numbered.turnstile_id = runs.turnstile_id
        and numbered.week = runs.week
        and numbered.run_number = runs.run_number
),

judged as (
    select
        directed.*,
        case
            when is_non_positive = 1 then 'non_positive_duration'
            when is_long_gap = 1 then 'long_gap'
            when is_entries_implausible = 1 and entries_end < {{ var('mart_reset_max_value') }} then 'counter_reset'
            when is_entries_implausible = 1 then 'implausible_jump'
            when entries_movement * entries_direction < 0 then 'against_direction'
        end as entries_rejection,
        case
            when is_non_positive = 1 then 'non_positive_duration'
            when is_long_gap = 1 then 'long_gap'
            when is_exits_implausible = 1 and exits_end < {{ var('mart_reset_max_value') }} then 'counter_reset'
            when is_exits_implausible = 1 then 'implausible_jump'
            when exits_movement * exits_direction < 0 then 'against_direction'
        end as exits_rejection
    from directed
)

select
    week,
    turnstile_id,
    started_at,
    ended_at,
    started_service_date,
    ended_service_date,
    seconds,
    run_number,
    entries_start,
    entries_end,
    exits_start,
    exits_end,
    entries_direction,
    exits_direction,
    case when entries_rejection is null then entries_movement * entries_direction else 0 end as counted_entries,
    case when exits_rejection is null then exits_movement * exits_direction else 0 end as counted_exits,
    case when entries_rejection is null then 0 else entries_movement end as rejected_entries_movement,
    case when exits_rejection is null then 0 else exits_movement end as rejected_exits_movement,
    entries_rejection,
    exits_rejection
from judged
{%- endmacro %}

{#- The counting direction of a run (or turnstile-week) and counter, an aggregate: the majority sign of its
    plausible movements, ties counting up. -#}
{% macro majority_direction(counter) -%}
    case
        when sum(case when is_{{ counter }}_usable = 1 and {{ counter }}_movement < 0 then 1 else 0 end)
           > sum(case when is_{{ counter }}_usable = 1 and {{ counter }}_movement > 0 then 1 else 0 end)
        then -1 else 1
    end
{%- endmacro %}

{#- The intervals of a batch of consecutive loaded weeks (none: every week), for a full rebuild. A batch's
    predecessors: each turnstile's last reading before the batch, from turnstile_week_last_readings. -#}
{% macro interval_batch_rows(batch) -%}
{%- set first_week = (batch | first) if batch is not none else '0001-01-01' -%}
{{ mta_mart.interval_rows(
    "(select turnstile_id, week, observed_at_utc, service_date, entries, exits, 1 as is_applied
      from " ~ mta_mart.staged_readings(batch) ~ " as staged
      union all
      select turnstile_id, week, observed_at_utc, last_reading.service_date, last_reading.entries,
          last_reading.exits, 0
      from (
          select turnstile_id, max(week) as week, max(observed_at_utc) as observed_at_utc,
              " ~ mta_mart.value_at_max(mta_mart.named_struct(['service_date', 'entries', 'exits']),
                                        ['observed_at_utc', 'entries', 'exits']) ~ " as last_reading
          from " ~ ref('turnstile_week_last_readings') ~ "
          where week < cast('" ~ first_week ~ "' as date)
          group by turnstile_id) as predecessors)") }}
{%- endmacro %}

{#- Post-hook of turnstile_intervals: insert, batch by batch, every rebuild batch none of whose weeks has
    intervals yet. After a full rebuild's first batch: all the others. After an incremental run: nothing,
    found by one probe per batch (the first row in the batch's range of weeks: storage statistics skip
    the rest), not a scan of the history's week column. -#}
{% macro insert_missing_interval_batches() -%}
    {%- if not execute -%}{{ return("select 1") }}{%- endif -%}
{%- set statements = [] -%}
    {%- for batch in mta_mart.rebuild_batches() if batch is not none -%}
        {%- set present = run_query("select count(*) from (select 1 from " ~ this ~ " where week between cast('"
            ~ (batch | first) ~ "' as date) and cast('" ~ (batch | last) ~ "' as date) limit 1) as probe")
            .columns[0].values()[0] -%}
        {%- if present == 0 -%}
            {%- do statements.append("insert into " ~ this ~ " " ~ mta_mart.interval_batch_rows(batch)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{ return("select 1") }}
{%- endmacro %}
