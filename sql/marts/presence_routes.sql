{#- presence_routes — grain: one site × grid instant × path (contract §7.5), only where
    someone is online. Key: site, snapshot_ts, path. online_visitors = distinct non-bot
    visitors whose latest activity in (t - {{ settings.presence_window_minutes }} min, t] was on that path. -#}
with buckets as (
    select * from {{ ref('int_presence_buckets') }}
),

final as (
    select
        site,
        {{ utc_date(from_epoch_ms('snapshot_ms')) }} as dt,
        {{ from_epoch_ms('snapshot_ms') }} as snapshot_ts,
        last_path as path,
        count(*) as online_visitors
    from buckets
    group by site, snapshot_ms, last_path
)

select * from final
where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
