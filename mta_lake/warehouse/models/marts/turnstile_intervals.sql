{#- Every interval between two consecutive readings of one turnstile (control_area, unit, scp), ordered by
    time across weekly files, each either counted or rejected with its reason, per counter.

    - Only numbers and reasons: the turnstile (control_area, unit, scp) and its station that week are in
      turnstile_week_last_readings, joined on (turnstile_id, week) - the station of the week of the
      interval's later reading. Keeping strings out of the 150-million-row windows and table is what
      makes the full rebuild fit in minutes.
    - An interval belongs to the week of its later reading (`week`): the last reading of one week and
      the first of the next form one interval, counted once, in the later week.
    - A run is a maximal sequence of intervals of one turnstile within one week that no break
      interrupts. A break (the interval starts a new run, and is rejected for the counter(s) concerned):
      a gap longer than mart_max_gap_hours, or a movement of either counter larger than
      mart_max_count_per_hour over the interval (a reset or a jump). Runs also start at the week
      boundary, so applying a week never changes an older week's counts.
    - Counting direction, per run and counter: the majority sign of the run's plausible movements
      (ties count up). A counter counting down is counted as (earlier - later), never as an absolute value.
    - Rejections (entries_rejection / exits_rejection, null when counted):
      'non_positive_duration', 'long_gap', 'counter_reset' (implausible, lands below
      mart_reset_max_value), 'implausible_jump' (any other implausible movement), 'against_direction'
      (a movement against its run's direction). Rejected movement is kept, signed, never clipped.
    - Accounting, per run and counter: direction * counted + rejected movement = last reading - first. -#}
{%- set model_config = mta_mart.mart_incremental_config('week', ['turnstile_id', 'ended_at']) %}
{%- do model_config.update({'post_hook': "{{ mta_mart.insert_missing_interval_batches() }}"}) %}
{{ config(**model_config) }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_weeks_to_process() %}

{%- if weeks is not none %}
{#- An incremental run: the applied weeks' readings, plus the last reading of every turnstile in the other
    loaded weeks before the last applied week - the predecessors of the applied weeks' first readings
    (only intervals ending in an applied week are kept). #}
{{ mta_mart.interval_rows(
    "(select turnstile_id, week, observed_at_utc, service_date, entries, exits, 1 as is_applied
      from " ~ mta_mart.staged_readings(weeks) ~ " as staged
      union all
      select turnstile_id, week, observed_at_utc, service_date, entries, exits, 0 as is_applied
      from " ~ ref('turnstile_week_last_readings') ~ "
      where week not in (" ~ mta_mart.date_literals(weeks) ~ ")
        and week < cast('" ~ (weeks | last) ~ "' as date))") }}
{%- else %}
{#- A first build or --full-refresh: the history in batches of mart_rebuild_batch_weeks consecutive weeks,
    each its own statement with its own windows (one window over ~150 million readings does not fit in
    memory and spills for many minutes; a batch's does, and a UNION ALL of batches materialises them all
    at once). This statement builds the first batch; the post-hook inserts the others, one by one. -#}
{%- set first_batch = mta_mart.rebuild_batches() | first %}
{{ mta_mart.interval_batch_rows(first_batch) }}
{%- endif %}
