{#- New York time, isolated here: the only SQL of the mart that differs between DuckDB and BigQuery.
    Inside the mart every instant is UTC: a naive TIMESTAMP in UTC on DuckDB, a TIMESTAMP (always UTC)
    on BigQuery. Service days are New York calendar days (23 hours in March, 25 in November). -#}

{% macro mart_time_zone() %}{{ return("America/New_York") }}{% endmacro %}

{#- A column holding a UTC instant (TIMESTAMPTZ, or a naive timestamp meaning UTC) as the mart's UTC type. -#}
{% macro utc_instant(column) %}{{ return(adapter.dispatch('utc_instant', 'mta_mart')(column)) }}{% endmacro %}

{% macro default__utc_instant(column) %}cast({{ column }} as timestamp){% endmacro %}

{% macro duckdb__utc_instant(column) -%}
    {#- The instant's microseconds since the epoch, as a naive timestamp: plain arithmetic. A cast from
        TIMESTAMPTZ (or timezone('UTC', ...)) goes through ICU's calendar per value: 7 s of the 8 s it takes
        to read 179 million readings. (A naive TIMESTAMP is taken as UTC, as epoch_us does.) -#}
    make_timestamp(epoch_us({{ column }}))
{%- endmacro %}

{#- BigQuery's TIMESTAMP is always UTC: a plain cast (the Parquet column is a UTC instant already). -#}
{% macro bigquery__utc_instant(column) %}cast({{ column }} as timestamp){% endmacro %}


{#- The New York calendar date of a UTC instant. -#}
{% macro local_date(utc_instant) %}{{ return(adapter.dispatch('local_date', 'mta_mart')(utc_instant)) }}{% endmacro %}

{% macro default__local_date(utc_instant) -%}
    cast(timezone('{{ mta_mart.mart_time_zone() }}', timezone('UTC', {{ utc_instant }})) as date)
{%- endmacro %}

{#- BigQuery has no timezone(): DATE(ts, zone) is the date on the zone's wall clock. -#}
{% macro bigquery__local_date(utc_instant) -%}
    date({{ utc_instant }}, '{{ mta_mart.mart_time_zone() }}')
{%- endmacro %}


{#- The UTC instant of midnight at the start of a New York calendar date (midnight always exists in
    New York: the clocks change at 02:00). -#}
{% macro local_midnight_utc(date_expression) %}{{ return(adapter.dispatch('local_midnight_utc', 'mta_mart')(date_expression)) }}{% endmacro %}

{% macro default__local_midnight_utc(date_expression) -%}
    timezone('UTC', timezone('{{ mta_mart.mart_time_zone() }}', cast({{ date_expression }} as timestamp)))
{%- endmacro %}

{#- TIMESTAMP(datetime, zone) reads the wall time in the zone (DuckDB: two timezone() calls). -#}
{% macro bigquery__local_midnight_utc(date_expression) -%}
    timestamp(datetime({{ date_expression }}), '{{ mta_mart.mart_time_zone() }}')
{%- endmacro %}


{#- A 'MM/DD/YYYY' text column as a DATE (the MTA's published files write dates that way). -#}
{% macro us_date(column) %}{{ return(adapter.dispatch('us_date', 'mta_mart')(column)) }}{% endmacro %}

{% macro default__us_date(column) %}cast(strptime({{ column }}, '%m/%d/%Y') as date){% endmacro %}

{#- strptime is DuckDB's; BigQuery's PARSE_DATE takes the format first. -#}
{% macro bigquery__us_date(column) %}parse_date('%m/%d/%Y', {{ column }}){% endmacro %}
