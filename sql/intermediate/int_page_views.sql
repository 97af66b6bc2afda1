{#- int_page_views — grain: one page view (contract §7.2) in the window. Key: page_view_id.
    Columns: page_view_id, ts, dt, site, visitor_id, path, referrer_domain, utm_*,
    country, device_type, browser, os, source ('rtl' | 'beacon'), and the order among
    activities at the same `ts`: client_order (the browser's clock for beacon events, which
    arrive in batches sharing one receive time) and client_seq.
    A log request counts when silver marks it `is_page_view`; a beacon `page_view` event
    counts as one. `page_views.source` (setting: {{ settings.page_views_source }}) picks the
    source per site-day so a page is never counted twice: `auto` takes the beacon for a
    site-day that has beacon page views, else the logs. Bots never have page views. -#}
with requests as (
    select * from {{ ref('stg_requests') }}
),

events as (
    select * from {{ ref('stg_events') }}
),

log_views as (
    select
        request_id as page_view_id,
        ts, dt, site, visitor_id, path,
        {{ attribution_columns() }},
        'rtl' as source,
        {{ epoch_ms('ts') }} as client_order,
        0 as client_seq
    from requests
    where is_page_view
),

beacon_views as (
    select
        event_id as page_view_id,
        ts, dt, site, visitor_id, path,
        {{ attribution_columns() }},
        'beacon' as source,
        coalesce({{ epoch_ms('client_ts') }}, {{ epoch_ms('ts') }}) as client_order,
        coalesce(seq, 0) as client_seq
    from events
    where event_type = 'page_view' and not is_bot
),

beacon_days as (
    select distinct site, dt from beacon_views
),

chosen as (
    select log_views.*
    from log_views
    left join beacon_days
        on log_views.site = beacon_days.site and log_views.dt = beacon_days.dt
    where {{ "true" if settings.page_views_source == "rtl" else "false" if settings.page_views_source == "beacon" else "beacon_days.site is null" }}
    union all
    select beacon_views.*
    from beacon_views
    where {{ "false" if settings.page_views_source == "rtl" else "true" }}
),

final as (
    select * from chosen
)

select * from final
