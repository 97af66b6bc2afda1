{#- cdn_health_hourly — grain: one day × site × hour (UTC) with requests. Key: dt, site, hour.
    What engineers read first in the morning: traffic, status mix, 5xx rate, cache hit ratio
    (Hit + RefreshHit over all requests) and latency percentiles (exact on DuckDB) of every
    request in the hour, bots and assets included, as daily_site_metrics counts them. -#}
with requests as (
    select * from {{ ref('stg_requests') }}
),

final as (
    select
        dt,
        site,
        hour,
        count(*) as requests,
        sum(case when is_bot then 1 else 0 end) as bot_requests,
        sum(case when is_page_view then 1 else 0 end) as page_view_requests,
        sum(case when status between 200 and 299 then 1 else 0 end) as status_2xx,
        sum(case when status between 300 and 399 then 1 else 0 end) as status_3xx,
        sum(case when status between 400 and 499 then 1 else 0 end) as status_4xx,
        sum(case when status between 500 and 599 then 1 else 0 end) as status_5xx,
        cast(sum(case when status between 500 and 599 then 1 else 0 end) as double)
        / count(*) as error_rate_5xx,
        cast(sum(case when edge_result_type in ('Hit', 'RefreshHit') then 1 else 0 end) as double)
        / count(*) as cache_hit_ratio,
        {{ percentile('time_taken_ms', 0.5) }} as time_taken_ms_p50,
        {{ percentile('time_taken_ms', 0.95) }} as time_taken_ms_p95,
        {{ percentile('time_taken_ms', 0.99) }} as time_taken_ms_p99,
        {{ percentile('ttfb_ms', 0.5) }} as ttfb_ms_p50,
        {{ percentile('ttfb_ms', 0.95) }} as ttfb_ms_p95,
        {{ percentile('ttfb_ms', 0.99) }} as ttfb_ms_p99
    from requests
    group by dt, site, hour
)

select * from final
