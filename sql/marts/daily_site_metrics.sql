{#- daily_site_metrics — grain: one day × site (contract §7.6). Key: dt, site.
    Traffic: page_views (after page_views.source), visitors = dau (distinct non-bot visitors
    with any activity that day), wau / mau (7 / 30 days ending dt), sessions (starting that
    day) with bounce_rate, avg_session_duration_s (rounded to the millisecond, so that the
    order a parallel sum takes cannot change the last digits) and views_per_session.
    CDN health over all requests (bots and assets included): requests, bot_requests,
    bytes_sent, status_2xx..5xx, error_rate_5xx, cache_hit_ratio (Hit + RefreshHit over all
    requests), and p50/p95/p99 of time_taken_ms and ttfb_ms (exact on DuckDB). -#}
with requests as (
    select * from {{ ref('stg_requests') }}
),

page_views as (
    select * from {{ ref('int_page_views') }}
),

activity as (
    select * from {{ ref('int_activity', before_hours=29 * 24) }}
),

sessions as (
    select * from {{ ref('sessions') }}
),

days as (
    select distinct dt, site from requests
    union
    select distinct dt, site from page_views
),

cdn as (
    select
        dt,
        site,
        coalesce(sum(bytes_sent), 0) as bytes_sent,
        {{ cdn_measures() }}
    from requests
    group by dt, site
),

views as (
    select dt, site, count(*) as page_views
    from page_views
    group by dt, site
),

active_days as (
    select distinct {{ utc_date('ts') }} as dt, site, visitor_id from activity
),

active as (
    select
        days.dt,
        days.site,
        count(distinct case when active_days.dt = days.dt then active_days.visitor_id end) as dau,
        count(distinct case when active_days.dt > days.dt - interval '7' day then active_days.visitor_id end) as wau,
        count(distinct active_days.visitor_id) as mau
    from days
    inner join active_days
        on active_days.site = days.site
        and active_days.dt <= days.dt
        and active_days.dt > days.dt - interval '30' day
    group by days.dt, days.site
),

visits as (
    select
        dt,
        site,
        count(*) as sessions,
        sum(case when is_bounce then 1 else 0 end) as bounces,
        round(avg(duration_s), 3) as avg_session_duration_s,
        sum(page_views) as session_page_views
    from sessions
    group by dt, site
),

final as (
    select
        days.dt,
        days.site,
        coalesce(views.page_views, 0) as page_views,
        coalesce(active.dau, 0) as visitors,
        coalesce(visits.sessions, 0) as sessions,
        cast(visits.bounces as double) / nullif(visits.sessions, 0) as bounce_rate,
        visits.avg_session_duration_s,
        cast(visits.session_page_views as double) / nullif(visits.sessions, 0) as views_per_session,
        coalesce(active.dau, 0) as dau,
        coalesce(active.wau, 0) as wau,
        coalesce(active.mau, 0) as mau,
        coalesce(cdn.requests, 0) as requests,
        coalesce(cdn.bot_requests, 0) as bot_requests,
        coalesce(cdn.bytes_sent, 0) as bytes_sent,
        coalesce(cdn.status_2xx, 0) as status_2xx,
        coalesce(cdn.status_3xx, 0) as status_3xx,
        coalesce(cdn.status_4xx, 0) as status_4xx,
        coalesce(cdn.status_5xx, 0) as status_5xx,
        cast(cdn.status_5xx as double) / nullif(cdn.requests, 0) as error_rate_5xx,
        cast(cdn.cache_hits as double) / nullif(cdn.requests, 0) as cache_hit_ratio,
        cdn.time_taken_ms_p50,
        cdn.time_taken_ms_p95,
        cdn.time_taken_ms_p99,
        cdn.ttfb_ms_p50,
        cdn.ttfb_ms_p95,
        cdn.ttfb_ms_p99
    from days
    left join cdn on cdn.dt = days.dt and cdn.site = days.site
    left join views on views.dt = days.dt and views.site = days.site
    left join active on active.dt = days.dt and active.site = days.site
    left join visits on visits.dt = days.dt and visits.site = days.site
)

select * from final
where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
