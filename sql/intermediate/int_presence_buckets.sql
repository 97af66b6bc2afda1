{#- int_presence_buckets — grain: one (site, visitor, snapshot instant) where the visitor
    was active in (t - window, t]. Key: site, visitor_id, snapshot_ms.
    An activity at ts counts for the grid instants t with ts <= t < ts + window: round ts
    up to the grid, then the window/step instants from there. `last_ms`/`last_path` carry
    the visitor's latest activity for presence_routes. -#}
{% set step_ms = settings.presence_step_minutes * 60000 %}
{% set window_ms = settings.presence_window_minutes * 60000 %}
with activity as (
    select * from {{ ref('int_activity', before_hours=24) }}
),

bucketed as (
    select
        site,
        visitor_id,
        cast(ceil(cast({{ epoch_ms('ts') }} as double) / {{ step_ms }}) as bigint) * {{ step_ms }} as bucket_ms,
        {{ epoch_ms('ts') }} as activity_ms,
        path
    from activity
),

per_bucket as (
    select
        site,
        visitor_id,
        bucket_ms,
        max(activity_ms) as last_ms,
        max_by(path, activity_ms) as last_path
    from bucketed
    group by site, visitor_id, bucket_ms
),

offsets as (
    select * from {{ series(0, window_ms - step_ms, step_ms, 'offset_ms') }}
),

expanded as (
    select
        per_bucket.site,
        per_bucket.visitor_id,
        per_bucket.bucket_ms + offsets.offset_ms as snapshot_ms,
        per_bucket.last_ms,
        per_bucket.last_path
    from per_bucket
    cross join offsets
    where per_bucket.bucket_ms + offsets.offset_ms < per_bucket.last_ms + {{ window_ms }}
        and per_bucket.bucket_ms + offsets.offset_ms <= {{ presence_grid[1] }}
),

final as (
    select
        site,
        visitor_id,
        snapshot_ms,
        max_by(last_path, last_ms) as last_path
    from expanded
    group by site, visitor_id, snapshot_ms
)

select * from final
