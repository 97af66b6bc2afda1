{#- page_views — grain: one page view (contract §7.2), partitioned by its day. Key: page_view_id.
    Columns: page_view_id, ts, dt, site, visitor_id, path, referrer_domain, utm_*,
    country, device_type, browser, os, source ('rtl' | 'beacon'). The choice of source per
    site-day (`page_views.source`) is made in int_page_views. -#}
with page_views as (
    select * from {{ ref('int_page_views') }}
),

final as (
    select
        page_view_id, ts, dt, site, visitor_id, path,
        {{ attribution_columns() }},
        source
    from page_views
    where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
)

select * from final
