{#- int_page_sequence — grain: one page view of a session (contract §7.2, §7.3), with what
    followed it there. Key: session_id, view_no (the page view's number in its session).
    - view_ts, path: the page view;
    - next_view_ts, next_path: the session's next page view (null after its last);
    - last_ts: the latest activity from the page view until the next one (a heartbeat, a
      click; the page view itself when nothing followed);
    - scroll_pct: the deepest `scroll` of the heartbeats in that span from the page view's
      own path (a visitor's other tabs send heartbeats from other pages).
    Activity before a session's first page view belongs to no page view. -#}
with sessionized as (
    select * from {{ ref('int_sessionized') }}
),

-- Each activity with the number of its session's page views up to it: the page view it
-- happened on (0 for activity before the session's first page view).
numbered as (
    select
        site, visitor_id, session_id, ts, path, is_page_view, scroll_pct,
        sum(is_page_view) over (
            partition by site, visitor_id, session_id order by seq
            rows between unbounded preceding and current row
        ) as view_no
    from sessionized
),

-- A page view's activity by path: only the heartbeats from its own path say how far down
-- it the visitor scrolled.
view_paths as (
    select
        site, visitor_id, session_id, view_no, path,
        max(is_page_view) as has_view,
        min(ts) as first_ts,
        max(ts) as last_ts,
        max(scroll_pct) as scroll_pct
    from numbered
    where view_no > 0
    group by site, visitor_id, session_id, view_no, path
),

views as (
    select
        site, visitor_id, session_id, view_no,
        -- The page view is its group's first activity, so its time is the earliest.
        min(first_ts) as view_ts,
        max(case when has_view = 1 then path end) as path,
        max(last_ts) as last_ts,
        max(case when has_view = 1 then scroll_pct end) as scroll_pct
    from view_paths
    group by site, visitor_id, session_id, view_no
),

final as (
    select
        *,
        lead(view_ts) over (partition by site, visitor_id, session_id order by view_no) as next_view_ts,
        lead(path) over (partition by site, visitor_id, session_id order by view_no) as next_path
    from views
)

select * from final
