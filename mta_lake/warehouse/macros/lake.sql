{#- Reading the clean layer (issue 11) from the lake: one Parquet object per week,
    <lake_url>/clean/turnstile_readings/week=YYYY-MM-DD/readings.parquet. -#}

{% macro clean_readings_root() -%}
    {%- set url = var('lake_url') | string -%}
    {%- if url.startswith('file://') -%}{%- set url = url[7:] -%}{%- endif -%}
    {{- return(url.rstrip('/') ~ '/clean/turnstile_readings') -}}
{%- endmacro %}

{#- A relation (table expression) of the clean readings of `weeks` (a list of 'YYYY-MM-DD'), or of
    every week when `weeks` is none. It has the clean layer's columns plus `week` (DATE). -#}
{% macro clean_readings(weeks) %}{{ return(adapter.dispatch('clean_readings', 'mta_mart')(weeks)) }}{% endmacro %}

{% macro duckdb__clean_readings(weeks) -%}
    {%- set root = mta_mart.clean_readings_root() -%}
    {%- if weeks is none -%}
    read_parquet('{{ root }}/week=*/readings.parquet', hive_partitioning = true, hive_types = {'week': date})
    {%- elif weeks | length == 0 -%}
    {#- No week to read: an empty relation with the right columns (read_parquet needs a file). -#}
    (select * from read_parquet('{{ root }}/week=*/readings.parquet', hive_partitioning = true, hive_types = {'week': date}) where false)
    {%- else -%}
    read_parquet([
        {%- for week in weeks %}'{{ root }}/week={{ week }}/readings.parquet'{{ ", " if not loop.last }}{% endfor -%}
    ], hive_partitioning = true, hive_types = {'week': date})
    {%- endif -%}
{%- endmacro %}

{% macro bigquery__clean_readings(weeks) -%}
    {#- The external table created by on-run-start (create_clean_readings_external_table); `week` is its
        hive partition column, so a filter on it reads only those weeks' objects. -#}
    (select * from {{ mta_mart.clean_readings_external_table() }}
     {%- if weeks is not none %} where week in ({{ mta_mart.date_literals(weeks) }}){% endif %})
{%- endmacro %}

{% macro clean_readings_external_table() -%}
    `{{ target.project }}`.`{{ target.dataset }}`.`clean_turnstile_readings`
{%- endmacro %}

{#- on-run-start: the BigQuery external table over the clean Parquet in GCS (a no-op elsewhere). -#}
{% macro create_clean_readings_external_table() %}{{ return(adapter.dispatch('create_clean_readings_external_table', 'mta_mart')()) }}{% endmacro %}

{% macro default__create_clean_readings_external_table() %}select 1{% endmacro %}

{% macro bigquery__create_clean_readings_external_table() -%}
    {%- set root = mta_mart.clean_readings_root() -%}
    create schema if not exists `{{ target.project }}`.`{{ target.dataset }}`;
    create or replace external table {{ mta_mart.clean_readings_external_table() }}
    with partition columns (week date)
    options (
        format = 'PARQUET',
        uris = ['{{ root }}/*'],
        hive_partition_uri_prefix = '{{ root }}',
        require_hive_partition_filter = false
    )
{%- endmacro %}
