"""What the marts' Athena queries read, which is what Athena bills (bench/lake_volume.py):
Trino inlines a CTE wherever it is referenced, so a relation referenced twice is scanned
twice, and only the columns some outer query uses are read. Expected reads worked out by
hand from the SQL."""

from __future__ import annotations

from datetime import date, timedelta

from bench.lake_volume import athena_reads, athena_schema
from pipelines.athena import insert_statement
from pipelines.config import Settings
from pipelines.models import Window

DAY = date(2026, 11, 2)
SCHEMA = athena_schema(Settings())


def reads(name: str) -> list[tuple[str, set[str], date, date]]:
    return athena_reads(insert_statement(Settings(), name, Window(DAY, DAY)), SCHEMA)


def test_a_cte_referenced_twice_is_read_twice_each_time_for_its_own_columns():
    sql = """
        with a as (select * from footfall.requests where dt between date '2026-11-01' and date '2026-11-02')
        select x.site, count(*) from a as x join a as y on x.visitor_id = y.visitor_id group by x.site
    """
    assert sorted(athena_reads(sql, SCHEMA), key=lambda r: len(r[1])) == [
        ("requests", {"dt", "visitor_id"}, date(2026, 11, 1), date(2026, 11, 2)),
        ("requests", {"dt", "visitor_id", "site"}, date(2026, 11, 1), date(2026, 11, 2)),
    ]


def test_the_funnel_reads_the_requests_once_per_step_for_its_day_and_window():
    # The default funnel has four steps and a 24-hour window. Each step's matches come from
    # the visitors' activity, which reads the requests once, for the day and the next (a
    # step may follow a start late on the day by up to the window). (Reading the sessionized
    # activity, each step read them twice over six and three days; joined back to itself
    # and unioned per step, the chain read them 74 times.)
    steps = len(Settings().funnels[0].steps)
    requests = [(first, last) for table, _columns, first, last in reads("funnel_daily") if table == "requests"]
    assert requests == [(DAY, DAY + timedelta(days=1))] * steps


def test_the_dimension_stats_read_the_sessionized_activity_once():
    # Pages and event types share one pass over the sessionized activity, which reads the
    # requests once over the day before to two days after (the window's visitors are found
    # by a window over each visitor's rows, not a semi-join that read them again); edge
    # locations read the day's requests once. (A pass each for pages and event types read
    # them five times; the semi-join, six.)
    requests = sorted((first, last) for table, _columns, first, last in reads("daily_dimension_stats")
                      if table == "requests")
    span = (DAY - timedelta(days=1), DAY + timedelta(days=2))
    assert requests == [span, (DAY, DAY)]


def test_mau_reads_thirty_days_of_requests_without_their_request_ids():
    # Monthly active visitors need who was active when, not which request it was: the
    # request id is 70 % of silver's bytes, and the 30-day read took it along.
    month = [(table, columns) for table, columns, first, last in reads("daily_site_metrics")
             if table == "requests" and (last - first).days == 29]
    assert month == [("requests", {"dt", "site", "ts", "visitor_id", "is_page_view"})]


def test_the_latency_mart_reads_only_the_columns_it_aggregates():
    assert reads("path_latency_daily") == [
        ("requests", {"dt", "site", "path", "status", "time_taken_ms", "ttfb_ms"}, DAY, DAY)]
