{#- page_transitions_daily — grain: one day × site × path × next path. Key: dt, site,
    from_path, to_path. Where visitors go from a page: for each page view of the day
    (contract §7.2), the next page view of its session (§7.3), or '(exit)' when it was
    the session's last.
    - transitions: such page views; visitors: the distinct visitors who made them;
    - share: transitions / the day's page views of from_path (a page's shares sum to 1;
      its '(exit)' share is its exit rate in page_engagement_daily);
    - rank: 1 for a page's most frequent next path, ties broken by path. -#}
with page_sequence as (
    select * from {{ ref('int_page_sequence') }}
),

steps as (
    select
        {{ utc_date('view_ts') }} as dt,
        site,
        path as from_path,
        case when next_view_ts is null then '(exit)' else next_path end as to_path,
        visitor_id
    from page_sequence
),

counted as (
    select
        dt,
        site,
        from_path,
        to_path,
        count(*) as transitions,
        count(distinct visitor_id) as visitors
    from steps
    where dt between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
    group by dt, site, from_path, to_path
),

final as (
    select
        dt,
        site,
        from_path,
        to_path,
        transitions,
        visitors,
        cast(transitions as double) / sum(transitions) over (partition by dt, site, from_path) as share,
        row_number() over (partition by dt, site, from_path order by transitions desc, to_path) as rank
    from counted
)

select * from final
