{#- Which weeks a run applies. -#}

{#- The weeks the run applies, a sorted list of 'YYYY-MM-DD' strings, or none (a full build): the `weeks`
    var (a list or a comma-separated string), else, in a run that is not --full-refresh, the weeks the
    platform wrote into the table the `weeks_table` var names (core/mart/dbt_project.py:
    record_run_weeks). The table keeps the run's weeks out of --vars: dbt re-parses the whole project
    when its --vars change, and with the same vars as the prepared manifest a run reuses its partial
    parse (seconds per run). -#}
{% macro requested_weeks() -%}
    {%- set value = var('weeks', none) -%}
    {%- if (value is none or value == '') and var('weeks_table', none) and not flags.FULL_REFRESH -%}
        {%- if not execute -%}{{ return(none) }}{%- endif -%}
        {%- set table = target.schema ~ '.' ~ var('weeks_table') -%}
        {%- set value = run_query("select cast(week as " ~ dbt.type_string() ~ ") from " ~ table ~ " order by 1")
            .columns[0].values() | list -%}
        {%- if value | length == 0 -%}
            {{ exceptions.raise_compiler_error("The run's weeks table " ~ table ~ " is empty: the platform writes it "
                ~ "before each incremental run (or pass --vars '{weeks: [YYYY-MM-DD]}')") }}
        {%- endif -%}
    {%- endif -%}
    {%- if value is none or value == '' -%}{{ return(none) }}{%- endif -%}
    {%- if value is string -%}{%- set value = value.split(',') -%}{%- endif -%}
    {%- set weeks = [] -%}
    {%- for week in value -%}
        {%- set text = (week | string).strip() -%}
        {%- if modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) is none -%}
            {{ exceptions.raise_compiler_error("var weeks: '" ~ text ~ "' is not a week key YYYY-MM-DD") }}
        {%- endif -%}
        {%- if text not in weeks -%}{%- do weeks.append(text) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(weeks | sort) }}
{%- endmacro %}

{#- The weeks an incremental run of the current model recomputes, or none for every week (a first
    build or --full-refresh). The requested weeks, plus the next loaded week after each of them: its
    first interval starts at the requested week's last reading, so a week landed out of order (a gap
    filled later) corrects its successor too. -#}
{% macro mart_weeks_to_process(loaded_weeks_relation=none) -%}
    {%- if not is_incremental() -%}{{ return(none) }}{%- endif -%}
    {%- set requested = mta_mart.requested_weeks() -%}
    {%- if requested is none -%}
        {{ exceptions.raise_compiler_error(
            "An incremental run of the mart needs the weeks it applies: --vars '{weeks: [YYYY-MM-DD]}' "
            ~ "(or rebuild everything with --full-refresh)") }}
    {%- endif -%}
    {{ return(mta_mart.with_next_loaded_weeks(requested, loaded_weeks_relation)) }}
{%- endmacro %}

{#- The weeks the data tests examine: those an incremental run with the same `weeks` var processed, or
    none (every week) without the var. Tests of a one-week run so cost seconds, not a scan of the history. -#}
{% macro mart_test_weeks() -%}
    {%- set requested = mta_mart.requested_weeks() -%}
    {%- if requested is none -%}{{ return(none) }}{%- endif -%}
    {{ return(mta_mart.with_next_loaded_weeks(requested)) }}
{%- endmacro %}

{#- `weeks` plus, for each, the next week already in the warehouse. -#}
{% macro with_next_loaded_weeks(weeks, loaded_weeks_relation=none) -%}
    {%- if not execute -%}{{ return(weeks) }}{%- endif -%}
    {#- The weeks already in the warehouse: turnstile_week_last_readings has one row per turnstile and week
        (the model itself passes `this`: a ref to itself would be a cycle). -#}
    {%- set relation = loaded_weeks_relation if loaded_weeks_relation is not none else ref('turnstile_week_last_readings') -%}
    {#- One small query for all of them (each model and test asks): a minimum per week, not the list of
        every loaded week. -#}
    {%- set queries = [] -%}
    {%- for week in weeks -%}
        {%- do queries.append("select cast(min(week) as " ~ dbt.type_string() ~ ") as next_week from " ~ relation
            ~ " where week > cast('" ~ week ~ "' as date)") -%}
    {%- endfor -%}
    {%- set result = weeks | list -%}
    {%- for candidate in run_query(queries | join(" union all ")).columns[0].values() -%}
        {%- if candidate is not none and candidate not in result -%}{%- do result.append(candidate) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(result | sort) }}
{%- endmacro %}

{% macro date_literals(weeks) -%}
    {%- for week in weeks %}cast('{{ week }}' as date){{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}

{#- The incremental configuration of a mart model. DuckDB: delete+insert of every row whose `replace_key`
    (week or service_date) the run produces, so a recomputed week or day replaces the old one whole.
    BigQuery: merge on the row's unique key (`merge_key`), tables partitioned by month of `replace_key`
    (a table holds at most 4,000 partitions; 2010-2024 has about 5,000 days). dbt-bigquery has no
    delete+insert strategy. MERGE updates the rows a recomputed week or day produces again and inserts the
    new ones (the same rows as DuckDB for a week applied after others: mta_lake_tests/core/mart/bigquery), but keeps a
    row whose key the recomputation no longer produces (a station-day gone after a week is cleaned again),
    where DuckDB's delete+insert drops it: rebuild with --full-refresh after re-cleaning weeks. -#}
{% macro mart_incremental_config(replace_key, merge_key) -%}
    {%- if target.type == 'bigquery' -%}
        {{ return({'incremental_strategy': 'merge', 'unique_key': merge_key,
                   'partition_by': {'field': replace_key, 'data_type': 'date', 'granularity': 'month'},
                   'on_schema_change': 'fail'}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert', 'unique_key': replace_key, 'on_schema_change': 'fail'}) }}
    {%- endif -%}
{%- endmacro %}

{#- The loaded weeks (from turnstile_week_last_readings) in consecutive batches of mart_rebuild_batch_weeks,
    for a full rebuild of turnstile_intervals. At parse time: one batch of every week (none). -#}
{% macro rebuild_batches() -%}
    {%- if not execute -%}{{ return([none]) }}{%- endif -%}
    {%- set loaded = run_query("select distinct cast(week as " ~ dbt.type_string() ~ ") as week from "
        ~ ref('turnstile_week_last_readings') ~ " order by 1").columns[0].values() | list -%}
    {%- if loaded | length == 0 -%}{{ return([none]) }}{%- endif -%}
    {%- set size = var('mart_rebuild_batch_weeks') | int -%}
    {%- set batches = [] -%}
    {%- for start in range(0, loaded | length, size) -%}
        {%- do batches.append(loaded[start:start + size]) -%}
    {%- endfor -%}
    {{ return(batches) }}
{%- endmacro %}
