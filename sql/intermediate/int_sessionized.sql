{#- int_sessionized — grain: one activity (int_activity) with the session it belongs to.
    Key: activity_id. Adds seq (order within the visitor), session_id and session_start_ts.
    The session rules are documented in marts/sessions.sql. -#}
with read_activity as (
    select * from {{ ref('int_activity', before_hours=settings.session_max_hours, after_hours=48) }}
),

-- The days before and after the window matter only for the sessions of visitors active in
-- it (a visitor with no activity in the window has no session starting there): the others'
-- activity is left out before the window functions sort it.
{% if engine == 'athena' %}
{#- Athena computes a CTE anew wherever it is referenced and bills each scan: a semi-join
    with the window's visitors would read the activity twice, a window over each visitor's
    rows reads it once. The columns are int_activity's. #}
activity as (
    select
        activity_id, site, visitor_id, ts, path,
        {{ attribution_columns() }},
        event_type, client_order, client_seq, is_page_view, is_event, is_interactive, scroll_pct
    from (
        select
            *,
            max(case when {{ utc_date('ts') }} between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
                then 1 else 0 end) over (partition by site, visitor_id) as in_window
        from read_activity
    ) as marked
    where in_window = 1
),
{% else %}
window_visitors as (
    select distinct site, visitor_id
    from read_activity
    where {{ utc_date('ts') }} between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
),

activity as (
    select read_activity.*
    from read_activity
    where exists (
        select 1 from window_visitors as w
        where w.site = read_activity.site and w.visitor_id = read_activity.visitor_id
    )
),
{% endif %}

ordered as (
    select
        *,
        row_number() over ({{ visitor_order() }}) as seq,
        lag(ts) over ({{ visitor_order() }}) as previous_ts
    from activity
),

runs as (
    select
        *,
        sum(new_run) over (partition by site, visitor_id order by seq rows between unbounded preceding and current row) as run,
        -- The run's first (earliest) ts, in the same window pass as the run number: rows
        -- are in ts order, so the latest run start so far is this row's.
        max(case when new_run = 1 then ts end) over (partition by site, visitor_id order by seq rows between unbounded preceding and current row) as run_start_ts
    from (
        select
            *,
            case
                when previous_ts is null then 1
                when {{ epoch_ms('ts') }} - {{ epoch_ms('previous_ts') }} > {{ settings.session_timeout_minutes * 60000 }} then 1
                else 0
            end as new_run
        from ordered
    ) as flagged
),

sliced as (
    select
        *,
        -- Divided as doubles: Trino reads a literal like 86400000.0 as a decimal, and a
        -- bigint divided by it keeps one decimal place (25 h would round to one day).
        greatest(0, cast(ceil(
            cast({{ epoch_ms('ts') }} - {{ epoch_ms('run_start_ts') }} as double)
            / {{ settings.session_max_hours * 3600000 }}
        ) as bigint) - 1) as slice
    from runs
),

final as (
    select
        *,
        min(ts) over (partition by site, visitor_id, run, slice) as session_start_ts,
        {{ md5_hex("visitor_id || '|' || cast(" ~ epoch_ms("min(ts) over (partition by site, visitor_id, run, slice)") ~ " as varchar)") }} as session_id
    from sliced
)

select * from final
