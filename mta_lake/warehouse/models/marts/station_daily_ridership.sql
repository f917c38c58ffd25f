{#- Entries and exits per station (the clean layer's normalised station_key) and New York service day.

    - station_name, line_names, division, mode: the station's labels in the latest week of the day's
      turnstile-days, chosen by one stated rule (macros/station_days.sql: station_week_labels): the
      combination most of the station's turnstiles carry that week, a tie going to the greatest in text
      order. mode: subway, PATH, SIR (Staten Island Railway), tram (Roosevelt Island Tram) or bus
      (macros/modes.sql). A full rebuild and the incremental weeks give the same labels.

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
      overlaps, from every interval (of any week) overlapping those days.
    - A first build or --full-refresh computes the days in consecutive ranges, one per batch of
      mart_rebuild_batch_weeks loaded weeks (this statement the first; the post-hook inserts the others):
      one aggregate over the whole history spills many GB to disk, one range's does not. -#}
{%- set model_config = mta_mart.mart_incremental_config('service_date', ['service_date', 'station']) %}
{%- do model_config.update({'post_hook': "{{ mta_mart.insert_missing_station_day_batches() }}"}) %}
{{ config(**model_config) }}
-- depends_on: {{ ref('turnstile_intervals') }}
-- depends_on: {{ ref('turnstile_week_last_readings') }}
{%- set weeks = mta_mart.mart_weeks_to_process() %}

{%- if weeks is not none %}
{%- set processed = mta_mart.processed_service_dates(weeks) %}
{{ mta_mart.station_day_rows(
    "(select first_date from " ~ processed ~ " as processed)",
    "(select last_date from " ~ processed ~ " as processed)") }}
{%- else %}
{%- set first_range = mta_mart.station_day_batch_ranges() | first %}
{{ mta_mart.station_day_rows(first_range[0], first_range[1]) }}
{%- endif %}
