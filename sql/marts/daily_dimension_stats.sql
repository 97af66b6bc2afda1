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

{#- Pages and event types come from one pass over the activity, each page view once for
    its path and every activity once for its type: Athena computes a CTE anew wherever it
    is referenced, and the sessionized activity reads the requests twice over four days. -#}
activity_dimensions as (
    select
        {{ utc_date('sessionized.ts') }} as dt,
        sessionized.site,
        dimensions.dimension,
        case dimensions.dimension when 'page' then sessionized.path else sessionized.event_type end as value,
        sessionized.is_page_view,
        sessionized.visitor_id,
        sessionized.session_id
    from sessionized
    cross join (values ('page'), ('event_type')) as dimensions (dimension)
    where dimensions.dimension = 'event_type' or sessionized.is_page_view = 1
),

activity_stats as (
    select
        dt, site, dimension, value,
        cast(sum(is_page_view) as bigint) as page_views,
        count(distinct visitor_id) as visitors,
        count(distinct session_id) as sessions,
        case when dimension = 'event_type' then count(*) end as events,
        cast(null as bigint) as requests,
        count(*) as measure
    from activity_dimensions
    group by dt, site, dimension, value
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
    select * from activity_stats
    union all
    select * from session_attributes
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
