{#- int_activity — grain: one activity of a non-bot visitor (contract §7.2): a page view,
    or any beacon event. Key: activity_id. `is_page_view` marks the page views that count
    (after `page_views.source`); `is_interactive` the interactive event types (§6);
    `scroll_pct` how far down its page a heartbeat says the visitor has scrolled so far
    (props `scroll`, 0–100; the beacon sends it), null on any other activity. -#}
with page_views as (
    select * from {{ ref('int_page_views') }}
),

events as (
    select * from {{ ref('stg_events') }}
),

page_view_activity as (
    select
        page_view_id as activity_id,
        site, visitor_id, ts, path,
        {{ attribution_columns() }},
        'page_view' as event_type,
        client_order,
        client_seq,
        1 as is_page_view,
        0 as is_event,
        0 as is_interactive,
        cast(null as integer) as scroll_pct
    from page_views
),

event_activity as (
    select
        events.event_id as activity_id,
        events.site, events.visitor_id, events.ts, events.path,
        {{ attribution_columns("events") }},
        events.event_type,
        coalesce({{ epoch_ms('events.client_ts') }}, {{ epoch_ms('events.ts') }}) as client_order,
        coalesce(events.seq, 0) as client_seq,
        0 as is_page_view,
        1 as is_event,
        case when events.event_type in ('click', 'form_submit', 'download', 'chat_message', 'custom')
            then 1 else 0 end as is_interactive,
        {#- A value outside 0–100 (or not a number) is no measurement: null, not clamped. #}
        {%- set scroll = "try_cast(" ~ json_text('events.props', 'scroll') ~ " as double)" %}
        case when events.event_type = 'heartbeat' and {{ scroll }} between 0 and 100
            then cast(round({{ scroll }}) as integer) end as scroll_pct
    from events
    {#- A beacon page view is a page view, not an event, wherever page_views takes the
        beacon's (every one but with `page_views.source = "rtl"`). Said as a filter, not
        an anti-join with page_views: Athena computes a CTE anew wherever it is referenced,
        and the join read the window's requests (with their request ids) a second time. #}
    where not events.is_bot
    {% if settings.page_views_source != "rtl" %}
        and events.event_type is distinct from 'page_view'
    {% endif %}
),

final as (
    select * from page_view_activity
    union all
    select * from event_activity
)

select * from final
