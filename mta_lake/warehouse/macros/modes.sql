{#- The mode of a turnstile (subway, PATH, SIR, tram, bus): the rule is stated with the vars it reads in
    dbt_project.yml (mode_by_division, mode_by_remote, default_mode).

    1. Its division, when the division is one of mode_by_division's codes. New-format files print the
       division (PTH = PATH, SRT = Staten Island Railway, RIT = Roosevelt Island Tram, IRT/BMT/IND =
       subway); old-format files print none, and the clean layer gives their booths the division of the
       reference tables (mta_lake/core/clean/reference).
    2. Else its remote (UNIT), when the reference tables put that remote in another mode than the
       subway (mode_by_remote; a test keeps it equal to the tables).
    3. Else default_mode (subway): every remote of another mode is in the tables. -#}
{% macro turnstile_mode(division, unit) -%}
    case
    {%- for code, mode in var('mode_by_division').items() | sort %}
        when {{ division }} = '{{ code }}' then '{{ mode }}'
    {%- endfor %}
    {%- for remote, mode in var('mode_by_remote').items() | sort %}
        when {{ unit }} = '{{ remote }}' then '{{ mode }}'
    {%- endfor %}
        else '{{ var("default_mode") }}'
    end
{%- endmacro %}
