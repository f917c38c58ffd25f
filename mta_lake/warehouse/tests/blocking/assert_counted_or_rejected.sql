{#- Blocking. Every interval's movement of each counter is either counted (no reason, nothing rejected,
    count = direction x movement >= 0) or rejected (a known reason, nothing counted, the whole movement
    kept as it was) - never both, never clipped. -#}
{#- dagster-dbt: the asset check belongs to this model (the test refs several). -#}
{{ config(meta={'dagster': {'ref': {'name': 'turnstile_intervals'}}}) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_test_weeks() %}
{%- set reasons = "('non_positive_duration', 'long_gap', 'counter_reset', 'implausible_jump', 'against_direction')" %}

select *
from {{ ref('turnstile_intervals') }}
where (
    (entries_rejection is null and (
        rejected_entries_movement <> 0 or counted_entries <> entries_direction * (entries_end - entries_start)))
    or (entries_rejection is not null and (
        counted_entries <> 0 or rejected_entries_movement <> entries_end - entries_start
        or entries_rejection not in {{ reasons }}))
    or (exits_rejection is null and (
        rejected_exits_movement <> 0 or counted_exits <> exits_direction * (exits_end - exits_start)))
    or (exits_rejection is not null and (
        counted_exits <> 0 or rejected_exits_movement <> exits_end - exits_start
        or exits_rejection not in {{ reasons }}))
)
{%- if weeks is not none %} and week in ({{ mta_mart.date_literals(weeks) }}){% endif %}
