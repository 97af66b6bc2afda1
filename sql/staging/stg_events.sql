{#- stg_events — grain: one beacon event (silver `events`), for the window's days.
    Key: event_id. Empty for sites without the collector beacon; models must not care. -#}
with events as (
    select * from {{ source('events', window.start, window.end) }}
),

final as (
    select
        event_id,
        event_type,
        ts,
        client_ts,
        seq,
        dt,
        site,
        visitor_id,
        path,
        {{ attribution_columns() }},
        props,
        is_bot
    from events
)

select * from final
