{#- Column lists that several models share, so they are named in one place. -#}
{% import 'macros/engine.sql' as engine_macros with context %}

{#- What a visitor brings to an activity: where they came from and on what. -#}
{% macro attribution_columns(relation=none) -%}
{%- set names = ["referrer_domain", "utm_source", "utm_medium", "utm_campaign", "utm_term",
                 "utm_content", "country", "device_type", "browser", "os"] -%}
{%- for name in names -%}
{{ relation ~ "." if relation else "" }}{{ name }}{{ ",\n        " if not loop.last }}
{%- endfor -%}
{%- endmacro %}


{#- A visitor's activity in time order, ties broken by the browser's clock and sequence,
    then by id: the order of sessionization's seq, which the funnel numbers alike. -#}
{% macro visitor_order(relation=none) -%}
{%- set r = relation ~ "." if relation else "" -%}
partition by {{ r }}site, {{ r }}visitor_id order by {{ r }}ts, {{ r }}client_order, {{ r }}client_seq, {{ r }}activity_id
{%- endmacro %}


{#- CDN health of a group of requests (every request: bots and assets included), as
    daily_site_metrics and cdn_health_hourly report it; ratios are taken from these counts. -#}
{% macro cdn_measures() -%}
count(*) as requests,
        sum(case when is_bot then 1 else 0 end) as bot_requests,
        sum(case when status between 200 and 299 then 1 else 0 end) as status_2xx,
        sum(case when status between 300 and 399 then 1 else 0 end) as status_3xx,
        sum(case when status between 400 and 499 then 1 else 0 end) as status_4xx,
        sum(case when status between 500 and 599 then 1 else 0 end) as status_5xx,
        sum(case when edge_result_type in ('Hit', 'RefreshHit') then 1 else 0 end) as cache_hits,
        {{ engine_macros.percentile('time_taken_ms', 0.5) }} as time_taken_ms_p50,
        {{ engine_macros.percentile('time_taken_ms', 0.95) }} as time_taken_ms_p95,
        {{ engine_macros.percentile('time_taken_ms', 0.99) }} as time_taken_ms_p99,
        {{ engine_macros.percentile('ttfb_ms', 0.5) }} as ttfb_ms_p50,
        {{ engine_macros.percentile('ttfb_ms', 0.95) }} as ttfb_ms_p95,
        {{ engine_macros.percentile('ttfb_ms', 0.99) }} as ttfb_ms_p99
{%- endmacro %}
