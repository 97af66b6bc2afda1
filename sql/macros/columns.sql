{#- Column lists that several models share, so they are named in one place. -#}

{#- What a visitor brings to an activity: where they came from and on what. -#}
{% macro attribution_columns(relation=none) -%}
{%- set names = ["referrer_domain", "utm_source", "utm_medium", "utm_campaign", "utm_term",
                 "utm_content", "country", "device_type", "browser", "os"] -%}
{%- for name in names -%}
{{ relation ~ "." if relation else "" }}{{ name }}{{ ",\n        " if not loop.last }}
{%- endfor -%}
{%- endmacro %}
