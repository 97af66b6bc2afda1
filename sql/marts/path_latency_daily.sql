{#- path_latency_daily — grain: one day × site × path. Key: dt, site, path.
    Requests, 5xx and latency percentiles (exact on DuckDB) per path, all requests included;
    slowness_rank orders the paths with at least {{ settings.slow_path_min_requests }}
    requests by p95 time taken, slowest first (ties by path), null for rarer paths, whose
    percentiles say little. -#}
with requests as (
    select * from {{ ref('stg_requests') }}
),

per_path as (
    select
        dt,
        site,
        path,
        count(*) as requests,
        sum(case when status between 500 and 599 then 1 else 0 end) as status_5xx,
        {{ percentile('time_taken_ms', 0.5) }} as time_taken_ms_p50,
        {{ percentile('time_taken_ms', 0.95) }} as time_taken_ms_p95,
        {{ percentile('time_taken_ms', 0.99) }} as time_taken_ms_p99,
        {{ percentile('ttfb_ms', 0.95) }} as ttfb_ms_p95
    from requests
    group by dt, site, path
),

final as (
    select
        *,
        case
            when requests >= {{ settings.slow_path_min_requests }}
                then row_number() over (
                    partition by dt, site, requests >= {{ settings.slow_path_min_requests }}
                    order by time_taken_ms_p95 desc, path
                )
        end as slowness_rank
    from per_path
)

select * from final
