{#- sessions — grain: one session (contract §7.3), on the day it starts. Key: session_id.
    Per site and visitor, activity ordered by time; a session ends after more than
    {{ settings.session_timeout_minutes }} min without activity (a gap of exactly the timeout
    continues it), and is cut when it would exceed {{ settings.session_max_hours }} h.
    Attribution, country, device, browser and OS come from the session's first activity.
    referrer_domain is the first activity's referrer when it is external: a referrer on the
    site itself or a parent domain of it (a tab left open past the timeout, then clicked)
    is null, as for a direct visit, so a site is never its own top referrer.
    Columns: session_id, visitor_id, site, dt, start_ts, end_ts, duration_s, page_views,
    events, interactive_events, entry_path, exit_path, is_bounce, referrer_domain,
    utm_source, utm_medium, utm_campaign, channel, country, device_type, browser, os.
    Cut rule: a run of activity with no long gap is split into consecutive
    session_max_hours slices counted from its first activity, so a 25 h visitor has a 24 h
    session and a 1 h one (the second slice is counted from the run's start, not from its
    own first activity: the two differ only for runs longer than twice the cap).
    Input reaches back session_max_hours (a session that began yesterday continues today)
    and forward two days (a session starting late today ends tomorrow). -#}
with sessionized as (
    select * from {{ ref('int_sessionized') }}
),

grouped as (
    select
        site,
        visitor_id,
        run,
        slice,
        min(session_id) as session_id,
        min(ts) as start_ts,
        max(ts) as end_ts,
        sum(is_page_view) as page_views,
        sum(is_event) as events,
        sum(is_interactive) as interactive_events,
        min_by(path, seq) filter (where is_page_view = 1) as entry_path,
        max_by(path, seq) filter (where is_page_view = 1) as exit_path,
        min_by(referrer_domain, seq) as first_referrer,
        min_by(utm_source, seq) as utm_source,
        min_by(utm_medium, seq) as utm_medium,
        min_by(utm_campaign, seq) as utm_campaign,
        min_by(country, seq) as country,
        min_by(device_type, seq) as device_type,
        min_by(browser, seq) as browser,
        min_by(os, seq) as os
    from sessionized
    group by site, visitor_id, run, slice
),

attributed as (
    select
        *,
        case
            when first_referrer = site or site like '%.' || first_referrer then null
            else first_referrer
        end as referrer_domain
    from grouped
),

classified as (
    select
        *,
        case
            when lower(utm_medium) in ('email', 'e-mail', 'e_mail', 'newsletter') or lower(utm_source) in ('newsletter', 'email') then 'Email'
            when lower(utm_medium) in ('cpc', 'ppc', 'paid', 'paidsearch', 'paid_search', 'paid-search') then 'Paid Search'
            when lower(utm_medium) in ('social', 'social-media', 'social_media', 'sm')
                or referrer_domain in ('t.co', 'twitter.com', 'x.com', 'facebook.com', 'm.facebook.com', 'l.facebook.com',
                                       'linkedin.com', 'lnkd.in', 'reddit.com', 'old.reddit.com', 'instagram.com',
                                       'youtube.com', 'mastodon.social', 'bsky.app', 'threads.net') then 'Social'
            when referrer_domain like 'google.%' or referrer_domain like '%.google.%' or referrer_domain like 'bing.%'
                or referrer_domain in ('duckduckgo.com', 'search.yahoo.com', 'yandex.ru', 'yandex.com', 'baidu.com',
                                       'ecosia.org', 'search.brave.com', 'startpage.com', 'qwant.com') then 'Organic Search'
            when utm_source is not null or utm_medium is not null or utm_campaign is not null then 'Campaign'
            when referrer_domain is null then 'Direct'
            else 'Referral'
        end as channel
    from attributed
),

final as (
    select
        session_id,
        visitor_id,
        site,
        {{ utc_date('start_ts') }} as dt,
        start_ts,
        end_ts,
        {{ seconds(epoch_ms('end_ts') ~ ' - ' ~ epoch_ms('start_ts')) }} as duration_s,
        page_views,
        events,
        interactive_events,
        entry_path,
        exit_path,
        page_views = 1 and interactive_events = 0 as is_bounce,
        referrer_domain,
        utm_source,
        utm_medium,
        utm_campaign,
        channel,
        country,
        device_type,
        browser,
        os
    from classified
)

select * from final
where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
