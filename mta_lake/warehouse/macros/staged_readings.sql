{#- The readings the mart uses, each exactly once: the clean layer's reading of record
    (is_reading_of_record: one of each exact repeat, audit pair or conflicting pair) among the readings
    inside their own week's seven days (in_week). The weekly files overlap at their edges; a reading
    outside its file's week is the in-week reading of the neighbouring week's file, so it is used there.
    Consequence, stated: a reading that only appears outside its week (its own week's file was never
    published) is not used; the interval over the missing week becomes a 'long_gap' rejection.
    Instants become the mart's UTC type, each reading gets its New York date; turnstiles without a station key get 'UNIT <unit>'. -#}
{% macro staged_readings(weeks) -%}
(
    select
        {{ mta_mart.turnstile_id('control_area', 'unit', 'scp') }} as turnstile_id,
        control_area,
        unit,
        scp,
        coalesce(station_key, {{ dbt.concat(["'UNIT '", "unit"]) }}) as station_key,
        station,
        line_names,
        division,
        cast(week as date) as week,
        {{ mta_mart.utc_instant('observed_at_utc') }} as observed_at_utc,
        {#- The New York calendar date, from the local wall time the file gives (the repeated November
            hour is on one date either way): no time-zone conversion per reading. -#}
        cast(observed_at as date) as service_date,
        cast(entries as {{ dbt.type_bigint() }}) as entries,
        cast(exits as {{ dbt.type_bigint() }}) as exits
    from {{ mta_mart.clean_readings(weeks) }} as clean
    where in_week and is_reading_of_record
)
{%- endmacro %}
