{#- `value` of the row with the greatest `order_by` in the group, in one pass (no window sort): the two
    engines spell it differently. `order_by`: a column, or a list of columns compared in order (ties on
    the first broken by the next: the mart orders a turnstile's readings by time, then counters). -#}
{% macro value_at_max(value, order_by) %}{{ return(adapter.dispatch('value_at_max', 'mta_mart')(value, order_by)) }}{% endmacro %}

{% macro default__value_at_max(value, order_by) %}arg_max({{ value }}, {{ mta_mart.ordering_key(order_by) }}){% endmacro %}

{#- BigQuery has no arg_max over a list of keys (nor row comparison): the group's values in order, the first. -#}
{% macro bigquery__value_at_max(value, order_by) -%}
    array_agg({{ value }} order by {{ mta_mart.order_list(order_by, ' desc') }} limit 1)[offset(0)]
{%- endmacro %}

{#- `value` of the row with the least `order_by` in the group. -#}
{% macro value_at_min(value, order_by) %}{{ return(adapter.dispatch('value_at_min', 'mta_mart')(value, order_by)) }}{% endmacro %}

{% macro default__value_at_min(value, order_by) %}arg_min({{ value }}, {{ mta_mart.ordering_key(order_by) }}){% endmacro %}

{% macro bigquery__value_at_min(value, order_by) -%}
    array_agg({{ value }} order by {{ mta_mart.order_list(order_by, '') }} limit 1)[offset(0)]
{%- endmacro %}

{#- A 64-bit integer identifying a turnstile (control_area, unit, scp): the key of every window and join
    over the history (one integer sorts and hashes far faster than three strings). -#}
{% macro turnstile_id(control_area, unit, scp) %}{{ return(adapter.dispatch('turnstile_id', 'mta_mart')(control_area, unit, scp)) }}{% endmacro %}

{% macro default__turnstile_id(control_area, unit, scp) -%}
    cast(hash({{ control_area }}, {{ unit }}, {{ scp }}) >> 1 as bigint)
{%- endmacro %}

{#- BigQuery has no hash of several values: FARM_FINGERPRINT of the three joined by '|' (no field contains one).
    The ids differ from DuckDB's; they never leave the target (the compared tables have none). -#}
{% macro bigquery__turnstile_id(control_area, unit, scp) -%}
    farm_fingerprint(concat({{ control_area }}, '|', {{ unit }}, '|', {{ scp }}))
{%- endmacro %}

{#- A struct of `columns`, each field named as its column (read back as struct.column). -#}
{% macro named_struct(columns) %}{{ return(adapter.dispatch('named_struct', 'mta_mart')(columns)) }}{% endmacro %}

{% macro default__named_struct(columns) -%}
    struct_pack({%- for column in columns %}{{ column }} := {{ column }}{{ ", " if not loop.last }}{% endfor -%})
{%- endmacro %}

{#- struct_pack is DuckDB's spelling; BigQuery names a struct's fields with `as`. -#}
{% macro bigquery__named_struct(columns) -%}
    struct({%- for column in columns %}{{ column }} as {{ column }}{{ ", " if not loop.last }}{% endfor -%})
{%- endmacro %}

{#- One comparable key from a column or a list of columns (DuckDB compares STRUCTs field by field). -#}
{% macro ordering_key(order_by) -%}
    {%- if order_by is string -%}{{ order_by }}{%- else -%}row({{ order_by | join(', ') }}){%- endif -%}
{%- endmacro %}

{% macro order_list(order_by, direction) -%}
    {%- set columns = [order_by] if order_by is string else order_by -%}
    {%- for column in columns %}{{ column }}{{ direction }}{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro %}
