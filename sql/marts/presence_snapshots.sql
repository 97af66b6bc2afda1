{#- presence_snapshots — grain: one site × grid instant t of the day (contract §7.5), every
    {{ settings.presence_step_minutes }} min from 00:00 to 23:59, minutes with nobody online included;
    a day in progress ends at the build's time (instants still to come have no row).
    Key: site, snapshot_ts. online_visitors = distinct non-bot visitors with activity in
    (t - {{ settings.presence_window_minutes }} min, t]. A site has a day's grid when it had any
    request or event that day or the day before (whose activity can still be online after
    midnight). -#}
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

seen as (
    select site, ts from requests
    union all
    select site, ts from events
),

-- A site has a grid on each day it was seen and on the day after (its visitors can still be
-- online after midnight). Per day, so a day's rows do not depend on the window built with it.
site_days as (
    select distinct seen.site, cast(floor(cast({{ epoch_ms('seen.ts') }} as double) / 86400000) as bigint) + shift.n as day_number
    from seen
    cross join (select 0 as n union all select 1 as n) as shift
),

days as (
    select * from {{ series(presence_grid[0], presence_grid[1], step_ms, 'snapshot_ms') }}
),

grid as (
    select site_days.site, days.snapshot_ms
    from days
    inner join site_days on site_days.day_number = cast(floor(cast(days.snapshot_ms as double) / 86400000) as bigint)
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
