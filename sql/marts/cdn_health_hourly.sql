{#- cdn_health_hourly — grain: one day × site × hour (UTC) with requests. Key: dt, site, hour.
    What engineers read first in the morning: traffic, status mix, 5xx rate, cache hit ratio
    (Hit + RefreshHit over all requests) and latency percentiles (exact on DuckDB) of every
    request in the hour, bots and assets included, as daily_site_metrics counts them. -#}
with requests as (
    select * from {{ ref('stg_requests') }}
),

per_hour as (
    select
        dt,
        site,
        hour,
        sum(case when is_page_view then 1 else 0 end) as page_view_requests,
        {{ cdn_measures() }}
    from requests
    group by dt, site, hour
),

final as (
    select
        dt,
        site,
        hour,
        requests,
        bot_requests,
        page_view_requests,
        status_2xx,
        status_3xx,
        status_4xx,
        status_5xx,
        cast(status_5xx as double) / requests as error_rate_5xx,
        cast(cache_hits as double) / requests as cache_hit_ratio,
        time_taken_ms_p50,
        time_taken_ms_p95,
        time_taken_ms_p99,
        ttfb_ms_p50,
        ttfb_ms_p95,
        ttfb_ms_p99
    from per_hour
)

select * from final
