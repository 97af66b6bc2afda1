{#- funnel_daily — grain: one day × funnel × step (contract §7.4). Key: dt, funnel, step.
    A visitor reaches step k on day D when activities match steps 1..k in order (each one
    after the previous in the visitor's time order, so one activity never serves two
    steps), all within the funnel's window_minutes of the step-1 activity, and that
    step-1 activity is on D. From each step-1 match the chain takes, step by step, the
    earliest later match: that reaches the furthest level any chain from that start can.
    A visitor's level is the best over all starts. median_s_from_previous uses, per
    visitor, the earliest chain that reaches the step. Steps: a `path` (exact, or a glob
    with *) matches page views; an `event_type` matches activity of that type; `props`
    must equal the event's JSON properties. Days and steps without visitors give 0 rows. -#}
{#- The funnel needs each visitor's activity in time order, not their sessions: it reads
    int_activity and numbers it itself, in sessionization's order. int_sessionized also
    limits its days around the window to the window's visitors with a semi-join, so on
    Athena, which computes it anew for every step's reference, it read the requests twice
    per step. Steps may follow a start on the last day by up to the longest window. -#}
{% set horizon_hours = ((funnels | map(attribute='window_minutes') | max) + 59) // 60 if funnels else 0 %}
with read_activity as (
    select * from {{ ref('int_activity', after_hours=horizon_hours) }}
),

events as (
    select * from {{ ref('stg_events', after_hours=horizon_hours) }}
),

activity as (
    select
        read_activity.site, read_activity.visitor_id, read_activity.ts, read_activity.path,
        read_activity.is_page_view, read_activity.event_type, events.props,
        row_number() over ({{ visitor_order('read_activity') }}) as seq
    from read_activity
    left join events on read_activity.activity_id = events.event_id
),

{% for funnel in funnels %}
{% set f = loop.index %}
{% for step in funnel.steps %}
f{{ f }}_match_{{ loop.index }} as (
    select site, visitor_id, seq, ts
    from activity
    where true
    {% if step.path %}
        and is_page_view = 1
        and path like {{ step.path | glob_like }} escape '!'
    {% endif %}
    {% if step.event_type %}
        and event_type = {{ step.event_type | sql_string }}
    {% endif %}
    {% for key, value in step.props.items() %}
        and {{ json_text('props', key) }} = {{ value | sql_string }}
    {% endfor %}
),

{% endfor %}
f{{ f }}_chain_1 as (
    select site, visitor_id, seq as s1, ts as t1
    from f{{ f }}_match_1
    where {{ utc_date('ts') }} between {{ date_literal(window.start) }} and {{ date_literal(window.end) }}
),

{#- Each start keeps one row, its later steps null once one is not reached: the chain
    reads each step's matches once, and the levels below come from the last chain alone.
    (Athena, like Trino, computes a CTE anew wherever it is referenced: a chain joined
    back to itself and unioned per step repeated the whole activity pipeline 37 times
    for a four-step funnel.) -#}
{% for step in funnel.steps[1:] %}
{% set k = loop.index + 1 %}
f{{ f }}_chain_{{ k }} as (
    select
        c.site, c.visitor_id,
        {% for j in range(1, k) %}c.s{{ j }}, c.t{{ j }},{% endfor %}
        min(m.seq) as s{{ k }},
        min_by(m.ts, m.seq) as t{{ k }}
    from f{{ f }}_chain_{{ k - 1 }} as c
    left join f{{ f }}_match_{{ k }} as m
        on m.site = c.site and m.visitor_id = c.visitor_id
        and m.seq > c.s{{ k - 1 }}
        and {{ epoch_ms('m.ts') }} <= {{ epoch_ms('c.t1') }} + {{ funnel.window_minutes * 60000 }}
    group by c.site, c.visitor_id{% for j in range(1, k) %}, c.s{{ j }}, c.t{{ j }}{% endfor %}
),

{% endfor %}
{% set last = funnel.steps | length %}
f{{ f }}_reached as (
    select
        {{ utc_date('c.t1') }} as dt,
        c.site,
        c.visitor_id,
        steps.step,
        {% if last > 1 %}
        case steps.step
            {% for k in range(2, last + 1) %}
            when {{ k }} then {{ seconds(epoch_ms('c.t' ~ k) ~ ' - ' ~ epoch_ms('c.t' ~ (k - 1))) }}
            {% endfor %}
        end
        {% else %}
        cast(null as double)
        {% endif %} as seconds_from_previous,
        row_number() over (partition by {{ utc_date('c.t1') }}, c.site, c.visitor_id, steps.step
                           order by c.t1, c.s1) as chain_rank
    from f{{ f }}_chain_{{ last }} as c
    cross join {{ series(1, last, 1, 'step') }} as steps
    where case steps.step {% for k in range(1, last + 1) %}when {{ k }} then c.s{{ k }} {% endfor %}end is not null
),

f{{ f }}_steps as (
    select
        dt,
        {{ funnel.name | sql_string }} as funnel,
        step,
        count(distinct site || '|' || visitor_id) as visitors,
        {{ median('seconds_from_previous') }} filter (where chain_rank = 1) as median_s_from_previous
    from f{{ f }}_reached
    group by dt, step
),

{% endfor %}
grid as (
    {% for day in window_days %}
    {% set outer = loop %}
    {% for funnel in funnels %}
    {% set f = loop %}
    {% for step in funnel.steps %}
    select {{ date_literal(day) }} as dt, {{ funnel.name | sql_string }} as funnel, {{ loop.index }} as step,
           {{ step.name | sql_string }} as step_name
    {{ "union all" if not (outer.last and f.last and loop.last) }}
    {% endfor %}
    {% endfor %}
    {% endfor %}
),

measured as (
    {% for funnel in funnels %}
    select * from f{{ loop.index }}_steps
    {{ "union all" if not loop.last }}
    {% endfor %}
),

counted as (
    select
        grid.dt, grid.funnel, grid.step, grid.step_name,
        coalesce(measured.visitors, 0) as visitors,
        measured.median_s_from_previous
    from grid
    left join measured
        on measured.dt = grid.dt and measured.funnel = grid.funnel and measured.step = grid.step
),

final as (
    select
        dt, funnel, step, step_name, visitors,
        cast(visitors as double) / nullif(first_value(visitors) over (partition by dt, funnel order by step), 0)
            as conversion_from_start,
        cast(visitors as double) / nullif(lag(visitors) over (partition by dt, funnel order by step), 0)
            as conversion_from_previous,
        median_s_from_previous
    from counted
)

select * from final
