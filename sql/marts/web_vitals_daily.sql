{#- web_vitals_daily — grain: one day × site × path × metric (LCP, INP, CLS, TTFB), and
    one row per day × site × metric with path '(all)'. Key: dt, site, path, metric.
    From beacon `web_vital` events (props `name`, `value`) of non-bots; `p75` is the 75th
    percentile of the values, as the Core Web Vitals reports give it (exact on DuckDB,
    approximate on Athena); `samples` is the number of events. -#}
with events as (
    select * from {{ ref('stg_events') }}
),

vitals as (
    select
        dt,
        site,
        path,
        upper({{ json_text('props', 'name') }}) as metric,
        try_cast({{ json_text('props', 'value') }} as double) as metric_value
    from events
    where event_type = 'web_vital' and not is_bot
),

measured as (
    select * from vitals
    where metric in ('LCP', 'INP', 'CLS', 'TTFB') and metric_value is not null
),

per_path as (
    select
        dt,
        site,
        path,
        metric,
        count(*) as samples,
        {{ percentile('metric_value', 0.75) }} as p75
    from measured
    group by dt, site, path, metric
),

per_site as (
    select
        dt,
        site,
        '(all)' as path,
        metric,
        count(*) as samples,
        {{ percentile('metric_value', 0.75) }} as p75
    from measured
    group by dt, site, metric
),

final as (
    select * from per_path
    union all
    select * from per_site
)

select * from final
