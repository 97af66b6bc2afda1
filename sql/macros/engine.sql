{#- Engine differences live here and only here (DuckDB embedded, Athena/Trino at scale). -#}

{#- A lake table restricted to a date window. DuckDB reads the partitions' Parquet
    files (the runner lists them; on S3 it copies them to local files first); Athena
    reads the Glue table. -#}
{% macro source(table, start, end) -%}
{%- if engine == 'duckdb' -%}
    {%- set files = sources[table] -%}
    {%- if files -%}
(select * from read_parquet({{ files | sql_list }}, hive_partitioning = false, union_by_name = true)
 where dt between {{ date_literal(start) }} and {{ date_literal(end) }})
    {%- else -%}
(select * from {{ empty_relation(table) }})
    {%- endif -%}
{%- else -%}
(select * from {{ database }}.{{ table }}
 where dt between {{ date_literal(start) }} and {{ date_literal(end) }})
{%- endif -%}
{%- endmacro %}

{% macro date_literal(value) -%}
date '{{ value }}'
{%- endmacro %}

{#- An empty relation with a table's columns, for a source that has no data yet. -#}
{% macro empty_relation(table) -%}
(select {% for name, type in schemas[table] %}cast(null as {{ type }}) as {{ name }}{{ ", " if not loop.last }}{% endfor %} where false)
{%- endmacro %}

{#- Milliseconds since the epoch of a timestamp. -#}
{% macro epoch_ms(ts) -%}
{%- if engine == 'duckdb' -%}epoch_ms({{ ts }}){%- else -%}cast(to_unixtime({{ ts }}) * 1000 as bigint){%- endif -%}
{%- endmacro %}

{#- Lower-case hex MD5 of a text expression (deterministic ids, not security). -#}
{% macro md5_hex(text) -%}
{%- if engine == 'duckdb' -%}md5({{ text }}){%- else -%}lower(to_hex(md5(to_utf8({{ text }})))){%- endif -%}
{%- endmacro %}

{#- The UTC date of a timestamp. -#}
{% macro utc_date(ts) -%}
{%- if engine == 'duckdb' -%}cast(timezone('UTC', {{ ts }}) as date){%- else -%}cast({{ ts }} as date){%- endif -%}
{%- endmacro %}

{#- A timestamp from milliseconds since the epoch. -#}
{% macro from_epoch_ms(ms) -%}
{%- if engine == 'duckdb' -%}make_timestamptz(cast({{ ms }} as bigint) * 1000){%- else -%}from_unixtime({{ seconds(ms) }}){%- endif -%}
{%- endmacro %}

{#- Seconds, as a double, from a number of milliseconds. Never `ms / 1000.0`: Trino reads
    1000.0 as DECIMAL(5,1), and a bigint divided by it keeps one decimal place (1.234 s
    would be 1.2 on Athena); DuckDB divides the same doubles either way. -#}
{% macro seconds(ms) -%}
cast({{ ms }} as double) / 1000
{%- endmacro %}

{#- The integers start, start + step, ..., up to end, as rows of a one-column relation. -#}
{% macro series(start, end, step, name) -%}
{%- if engine == 'duckdb' -%}
(select unnest(generate_series(cast({{ start }} as bigint), cast({{ end }} as bigint), cast({{ step }} as bigint))) as {{ name }})
{%- else -%}
(select {{ name }} from unnest(sequence(cast({{ start }} as bigint), cast({{ end }} as bigint), cast({{ step }} as bigint))) as series ({{ name }}))
{%- endif -%}
{%- endmacro %}

{#- A percentile: exact on DuckDB (an observed value), approximate on Athena (contract §7.6). -#}
{% macro percentile(expr, fraction) -%}
{%- if engine == 'duckdb' -%}quantile_disc({{ expr }}, {{ fraction }}){%- else -%}approx_percentile({{ expr }}, {{ fraction }}){%- endif -%}
{%- endmacro %}

{#- A median: exact on DuckDB, approximate on Athena. -#}
{% macro median(expr) -%}
{%- if engine == 'duckdb' -%}median({{ expr }}){%- else -%}approx_percentile({{ expr }}, 0.5){%- endif -%}
{%- endmacro %}

{#- A top-level string property of a JSON text column. -#}
{% macro json_text(column, key) -%}
{%- if engine == 'duckdb' -%}json_extract_string({{ column }}, '$.{{ key }}'){%- else -%}json_extract_scalar({{ column }}, '$.{{ key }}'){%- endif -%}
{%- endmacro %}
