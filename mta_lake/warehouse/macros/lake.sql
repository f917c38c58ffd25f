{#- Reading the clean layer (issue 11) from the lake: one Parquet object per week,
    <lake_url>/clean/turnstile_readings/week=YYYY-MM-DD/readings.parquet. -#}

{% macro clean_readings_root() -%}
    {%- if var('lake_url', none) is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("var lake_url is not set: the platform passes its settings as --vars "
                ~ "(make mart-rebuild, the Dagster assets; python -m mta_lake.core.mart.dbt_project --print-vars)") }}
        {%- endif -%}
        {{- return('lake_url-not-set/clean/turnstile_readings') -}}
    {%- endif -%}
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
    {#- The table on-run-start creates (external) or the platform loads (bigquery_clean_layer 'load_job').
        Each object carries its `week` column. On the external table the filter on the pseudo-column
        _FILE_NAME is what limits the objects BigQuery reads to the run's weeks (the table cannot be
        hive-partitioned on `week`: BigQuery refuses partition keys that are also columns of the files);
        a native table has no _FILE_NAME and is partitioned by `week` itself. -#}
    (select * from {{ mta_mart.clean_readings_external_table() }}
     {%- if weeks is not none %} where week in ({{ mta_mart.date_literals(weeks) }})
        {%- if var('bigquery_clean_layer', 'external_table') == 'external_table' %}
        and _FILE_NAME in (
            {%- for week in weeks %}'{{ mta_mart.clean_readings_root() }}/week={{ week }}/readings.parquet'{{ ", " if not loop.last }}{% endfor -%}
        )
        {%- endif %}
     {%- endif %})
{%- endmacro %}

{% macro clean_readings_external_table() -%}
    `{{ target.project }}`.`{{ target.dataset }}`.`clean_turnstile_readings`
{%- endmacro %}

{#- on-run-start: the BigQuery external table over the clean Parquet in GCS (a no-op elsewhere). -#}
{% macro create_clean_readings_external_table() %}{{ return(adapter.dispatch('create_clean_readings_external_table', 'mta_mart')()) }}{% endmacro %}

{% macro default__create_clean_readings_external_table() %}select 1{% endmacro %}

{#- With bigquery_clean_layer 'load_job' the table is a native one, loaded week by week from the same GCS
    objects before dbt runs (mta_lake/core/mart/bigquery_lake.py: the BigQuery emulator has no external
    tables); this then only checks that it is there. -#}
{% macro bigquery__create_clean_readings_external_table() -%}
    {%- set mode = var('bigquery_clean_layer', 'external_table') -%}
    {%- if mode == 'load_job' -%}
    select count(*) from {{ mta_mart.clean_readings_external_table() }} where false
    {%- elif mode != 'external_table' -%}
    {{ exceptions.raise_compiler_error("var bigquery_clean_layer: 'external_table' or 'load_job', not '" ~ mode ~ "'") }}
    {%- else -%}
    {%- set root = mta_mart.clean_readings_root() -%}
    create schema if not exists `{{ target.project }}`.`{{ target.dataset }}`
        {%- if target.location %} options (location = '{{ target.location }}'){% endif %};
    {#- No hive partitioning: the files carry `week` themselves (see bigquery__clean_readings). -#}
    create or replace external table {{ mta_mart.clean_readings_external_table() }}
    options (
        format = 'PARQUET',
        uris = ['{{ root }}/*']
    )
    {%- endif -%}
{%- endmacro %}
