{#- stg_requests — grain: one CloudFront request (silver `requests`), for the window's days.
    Key: request_id. Only the columns the marts use; no transformation beyond naming. -#}
with requests as (
    select * from {{ source('requests', window.start, window.end) }}
),

final as (
    select
        request_id,
        ts,
        dt,
        hour,
        site,
        visitor_id,
        path,
        query,
        method,
        status,
        bytes_sent,
        time_taken_ms,
        ttfb_ms,
        edge_location,
        edge_result_type,
        is_bot,
        is_page_view,
        {{ attribution_columns() }}
    from requests
)

select * from final
