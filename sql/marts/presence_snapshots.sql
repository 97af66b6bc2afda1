{#- presence_snapshots — grain: one site × grid instant t of the day (contract §7.5), every
    {{ settings.presence_step_minutes }} min from 00:00 to 23:59, minutes with nobody online included;
    a day in progress ends at the build's time (instants still to come have no row).
    Key: site, snapshot_ts. online_visitors = distinct non-bot visitors with activity in
    (t - {{ settings.presence_window_minutes }} min, t]. Sites: those with any request or event in the
    window or the day before (whose activity can still be online after midnight). -#}
{% set step_ms = settings.presence_step_minutes * 60000 %}
with buckets as (
    select * from {{ ref('int_presence_buckets') }}
),

requests as (
    select * from {{ ref('stg_requests', before_hours=24) }}
),

events as (
    select * from {{ ref('stg_events', before_hours=24) }}
),

sites as (
    select distinct site from requests
    union
    select distinct site from events
),

days as (
    select * from {{ series(presence_grid[0], presence_grid[1], step_ms, 'snapshot_ms') }}
),

grid as (
    select sites.site, days.snapshot_ms
    from sites
    cross join days
),

counts as (
    select site, snapshot_ms, count(distinct visitor_id) as online_visitors
    from buckets
    group by site, snapshot_ms
),

final as (
    select
        grid.site,
        {{ utc_date(from_epoch_ms('grid.snapshot_ms')) }} as dt,
        {{ from_epoch_ms('grid.snapshot_ms') }} as snapshot_ts,
        coalesce(counts.online_visitors, 0) as online_visitors
    from grid
    left join counts on grid.site = counts.site and grid.snapshot_ms = counts.snapshot_ms
)

select * from final
