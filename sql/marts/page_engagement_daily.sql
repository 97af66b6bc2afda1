{#- page_engagement_daily — grain: one day × site × path of that day's page views (contract
    §7.2). Key: dt, site, path. How long visitors stay on a page, and how often it ends
    their visit:
    - page_views, visitors: as daily_dimension_stats' `page` rows;
    - exits: page views that were the last of their session (§7.3); exit_rate = exits /
      page_views;
    - time on page: from a page view to the next page view of its session or, on the
      session's last page view, to the session's last activity after it (a heartbeat, a
      click). A last page view with nothing after it has no time: nothing says when the
      visitor left (as in Plausible and Google Analytics). timed_views counts the page
      views with a time; avg_time_on_page_s and time_on_page_s_p50 (exact on DuckDB,
      approximate on Athena) are over those;
    - scroll depth: how far down the page the visitor scrolled, the deepest `scroll` of the
      page view's heartbeats on its path (the beacon sends one each minute the page is
      visible and one when it is hidden or left). scrolled_views counts the page views
      with one; avg_scroll_depth_pct and scroll_depth_pct_p50 are over those. Only the
      beacon measures it: a page view with no heartbeat after it has none. -#}
with page_sequence as (
    select * from {{ ref('int_page_sequence') }}
),

measured as (
    select
        {{ utc_date('view_ts') }} as dt,
        site, path, visitor_id, scroll_pct,
        case when next_view_ts is null then 1 else 0 end as is_exit,
        -- In whole milliseconds: a sum of integers is the same in any order, so every
        -- build gives the same bytes (a float sum is not).
        case
            when next_view_ts is not null then {{ epoch_ms('next_view_ts') }} - {{ epoch_ms('view_ts') }}
            when last_ts > view_ts then {{ epoch_ms('last_ts') }} - {{ epoch_ms('view_ts') }}
        end as time_on_page_ms
    from page_sequence
),

final as (
    select
        dt,
        site,
        path,
        count(*) as page_views,
        count(distinct visitor_id) as visitors,
        cast(sum(is_exit) as bigint) as exits,
        cast(sum(is_exit) as double) / count(*) as exit_rate,
        count(time_on_page_ms) as timed_views,
        {{ seconds('sum(time_on_page_ms)') }} / nullif(count(time_on_page_ms), 0) as avg_time_on_page_s,
        {{ seconds(percentile('time_on_page_ms', 0.5)) }} as time_on_page_s_p50,
        count(scroll_pct) as scrolled_views,
        cast(sum(scroll_pct) as double) / nullif(count(scroll_pct), 0) as avg_scroll_depth_pct,
        cast({{ percentile('scroll_pct', 0.5) }} as integer) as scroll_depth_pct_p50
    from measured
    where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
    group by dt, site, path
)

select * from final
