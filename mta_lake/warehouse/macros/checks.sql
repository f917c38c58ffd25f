{#- Helpers of the data tests. -#}

{#- A relation of era bands from a var list [{from, min, max}, ...] sorted by `from`: era_from, era_to
    (the next era's start, or 9999-12-31), band_min, band_max. -#}
{% macro era_bands_sql(bands) -%}
    {%- set ordered = bands | sort(attribute='from') -%}
    {%- for band in ordered %}
    select
        cast('{{ band["from"] }}' as date) as era_from,
        cast('{{ ordered[loop.index]["from"] if not loop.last else "9999-12-31" }}' as date) as era_to,
        {{ band["min"] }} as band_min,
        {{ band["max"] }} as band_max
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The MTA week (Saturday to Friday) holding a date: the Saturday on or before it. 2010-01-02 was a Saturday. -#}
{% macro week_start(date_expression) -%}
    cast({{ dbt.dateadd('day',
        "-1 * mod(" ~ dbt.datediff("cast('2010-01-02' as date)", date_expression, 'day') ~ ", 7)",
        date_expression) }} as date)
{%- endmacro %}

{#- System days (per service date and mode) that are not the sum of their mode's station-days, either way. -#}
{% macro system_day_mismatches(expected, actual) -%}
    select
        'system day' as failure, coalesce(expected.service_date, actual.service_date) as service_date,
        {{ dbt.concat(["'SYSTEM '", "coalesce(expected.mode, actual.mode)"]) }} as subject,
        coalesce(expected.entries, 0) as expected_entries, coalesce(actual.entries, 0) as actual_entries,
        coalesce(expected.exits, 0) as expected_exits, coalesce(actual.exits, 0) as actual_exits
    from {{ expected }} as expected
    full outer join {{ actual }} as actual
        on expected.service_date = actual.service_date and expected.mode = actual.mode
    where coalesce(expected.entries, 0) <> coalesce(actual.entries, 0)
       or coalesce(expected.exits, 0) <> coalesce(actual.exits, 0)
       or expected.mode is null or actual.mode is null
{%- endmacro %}
