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
