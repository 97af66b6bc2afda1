{#- daily_dimension_stats — grain: one day × site × dimension × value (contract §7.6).
    Key: dt, site, dimension, value. Measures: page_views, visitors, sessions, plus events
    and requests where they apply; rank = 1 for the top value of each dimension by its
    main measure (page views for `page`, sessions for session attributes, events for
    `event_type`, requests for `edge_location`), ties broken by value. A missing value is
    '(none)' (e.g. the referrer of a direct visit).
    - page: page views that day by path, the visitors and sessions that viewed it;
    - entry_page, exit_page, referrer_domain, channel, utm_source, utm_medium, utm_campaign,
      country, browser, os, device_type: sessions starting that day by their attribute,
      with those sessions' visitors and page views;
    - event_type: beacon events that day (and page views as `page_view`), with visitors
      and sessions;
    - edge_location: all requests that day (bots and assets included), with the page views
      and distinct non-bot page-viewing visitors among them. -#}
with sessionized as (
    select * from {{ ref('int_sessionized') }}
),

sessions as (
    select * from {{ ref('sessions') }}
),

requests as (
    select * from {{ ref('stg_requests') }}
),

activity_today as (
    select *, {{ utc_date('ts') }} as activity_dt
    from sessionized
),

pages as (
    select
        activity_dt as dt, site, 'page' as dimension, path as value,
        count(*) as page_views,
        count(distinct visitor_id) as visitors,
        count(distinct session_id) as sessions,
        cast(null as bigint) as events,
        cast(null as bigint) as requests,
        count(*) as measure
    from activity_today
    where is_page_view = 1
    group by activity_dt, site, path
),

session_attributes as (
    {% set attributes = ["entry_path:entry_page", "exit_path:exit_page", "referrer_domain:referrer_domain",
                         "channel:channel", "utm_source:utm_source", "utm_medium:utm_medium",
                         "utm_campaign:utm_campaign", "country:country", "browser:browser",
                         "os:os", "device_type:device_type"] %}
    {% for item in attributes %}
    {% set column, dimension = item.split(":") %}
    select
        dt, site, '{{ dimension }}' as dimension, coalesce({{ column }}, '(none)') as value,
        sum(page_views) as page_views,
        count(distinct visitor_id) as visitors,
        count(*) as sessions,
        cast(null as bigint) as events,
        cast(null as bigint) as requests,
        count(*) as measure
    from sessions
    group by dt, site, coalesce({{ column }}, '(none)')
    {{ "union all" if not loop.last }}
    {% endfor %}
),

event_types as (
    select
        activity_dt as dt, site, 'event_type' as dimension, event_type as value,
        sum(is_page_view) as page_views,
        count(distinct visitor_id) as visitors,
        count(distinct session_id) as sessions,
        count(*) as events,
        cast(null as bigint) as requests,
        count(*) as measure
    from activity_today
    group by activity_dt, site, event_type
),

edges as (
    select
        dt, site, 'edge_location' as dimension, coalesce(edge_location, '(none)') as value,
        sum(case when is_page_view then 1 else 0 end) as page_views,
        count(distinct case when is_page_view then visitor_id end) as visitors,
        cast(null as bigint) as sessions,
        cast(null as bigint) as events,
        count(*) as requests,
        count(*) as measure
    from requests
    group by dt, site, coalesce(edge_location, '(none)')
),

stacked as (
    select * from pages
    union all
    select * from session_attributes
    union all
    select * from event_types
    union all
    select * from edges
),

final as (
    select
        dt, site, dimension, value, page_views, visitors, sessions, events, requests,
        row_number() over (partition by dt, site, dimension order by measure desc, value) as rank
    from stacked
)

select * from final
where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
