"""The daily report: figures equal to gold (read back from the rendered page in Chromium),
hostile strings shown as text, a clear no-data page, formula-safe CSV, and delivery to S3
and SES against an AWS API server process."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import boto3
import duckdb
import polars as pl
import pytest

from pipelines.cli import main
from pipelines.config import Lake, Report, Settings
from pipelines.export import neutralise
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import Window, build
from pipelines.report import write_report
from pipelines.storage import Storage
from tests.browser import chromium
from tests.conftest import KEY, REPO
from tests.s3server import apply_env, moto_server
from tests.test_models import write_silver
from tests.test_sessions import pv

OUT = REPO / "test-output" / "report"
DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory):
    """A generated day, ingested and built: what `make demo` makes, smaller."""
    from pipelines.generate import GenerateOptions, generate

    root = tmp_path_factory.mktemp("report") / "lake"
    generate(Storage(str(root)), GenerateOptions(start=DAY, days=1, visitors=600, bots=4, seed=3))
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    build(settings, Window(DAY, DAY))
    return root, settings


def gold_sql(root, table: str, where: str = "true") -> list[dict]:
    rel = duckdb.sql(f"select * from read_parquet('{root}/gold/{table}/dt={DAY}/data.parquet') where {where}")
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def test_the_report_shows_the_gold_figures(built_lake):
    root, settings = built_lake
    written = write_report(settings, DAY)
    html_path = root / f"reports/dt={DAY}/daily_report.html"
    assert str(html_path).endswith(written.keys[0])
    OUT.mkdir(parents=True, exist_ok=True)
    metrics = {m["site"]: m for m in gold_sql(root, "daily_site_metrics")}
    with chromium() as browser:
        page = browser.new_page()
        page.goto(html_path.as_uri())
        page.screenshot(path=str(OUT / "daily_report.png"), full_page=True)
        assert sorted(page.locator("section.site").evaluate_all("els => els.map(e => e.dataset.site)")) \
            == sorted(metrics)
        with_scroll = 0
        for site, m in metrics.items():
            section = page.locator(f'section[data-site="{site}"]')

            def card(label: str, section=section) -> str:
                return section.locator(f'.card[data-metric="{label}"] .v').inner_text()

            assert card("Visitors") == f"{m['visitors']:,}"
            assert card("Page views") == f"{m['page_views']:,}"
            assert card("Sessions") == f"{m['sessions']:,}"
            assert card("Bounce rate") == f"{m['bounce_rate']:.1%}"
            # Top page: the rank-1 page of daily_dimension_stats.
            top = gold_sql(root, "daily_dimension_stats",
                           f"site = '{site}' and dimension = 'page' and rank = 1")[0]
            first = section.locator('table[data-top="page"] tr').nth(1).locator("td")
            assert first.nth(0).inner_text() == top["value"]
            assert first.nth(1).inner_text() == f"{int(top['page_views']):,}"
            # Time on page and exits: the same page leads, with its page_engagement_daily row.
            eng = gold_sql(root, "page_engagement_daily", f"site = '{site}' and path = '{top['value']}'")[0]
            row = section.locator('table[data-table="page_engagement"] tr').nth(1).locator("td").all_inner_texts()
            avg = eng["avg_time_on_page_s"]
            assert row[:2] == [top["value"], f"{eng['page_views']:,}"] and eng["page_views"] == top["page_views"]
            assert row[2] == (f"{int(avg // 60)}m {int(avg % 60):02d}s" if avg >= 60 else f"{avg:.0f}s")
            assert row[4] == f"{eng['exit_rate']:.1%}"
            # Scroll depth where the beacon measured it; a site without the beacon has no such column.
            scrolled = gold_sql(root, "page_engagement_daily", f"site = '{site}' and scrolled_views > 0")
            depth = eng["avg_scroll_depth_pct"]
            assert row[5:] == ([f"{depth:.0f}%" if depth is not None else "–"] if scrolled else [])
            with_scroll += bool(scrolled)
            # Where visitors go next from the top page: its three most frequent next pages.
            nexts = sorted(gold_sql(root, "page_transitions_daily", f"site = '{site}' and from_path = '{top['value']}'"),
                           key=lambda r: r["rank"])
            row = section.locator('table[data-table="page_transitions"] tr').nth(1).locator("td").all_inner_texts()
            assert row == [top["value"], " · ".join(f"{n['to_path']} {n['share']:.1%}" for n in nexts[:3])]
            assert sum(n["transitions"] for n in nexts) == top["page_views"]
            # Hourly requests sum to the day's requests.
            cells = section.locator('table[data-table="hourly"] tr td:nth-child(2)').all_inner_texts()
            assert sum(int(c.replace(",", "")) for c in cells) == m["requests"]
            # The hourly chart reads true against its axis: round labels from 0 to at least
            # the busiest hour, and each bar standing on the 0 line as tall as gold's page
            # views of its hour on the gridlines' scale.
            per_hour = dict(duckdb.sql(
                f"select hour(ts at time zone 'UTC'), count(*) from read_parquet('{root}/gold/page_views/"
                f"dt={DAY}/data.parquet') where site = '{site}' group by 1").fetchall())
            chart = section.locator('svg[data-chart="page_views"]')
            labels = [int(t.replace(",", "")) for t in chart.locator("text.tick").all_text_contents()]
            grid = chart.locator("line.grid").evaluate_all("els => els.map(e => +e.getAttribute('y1'))")
            drawn = chart.locator("rect").evaluate_all("els => els.map(e => [+e.getAttribute('y'), +e.getAttribute('height')])")
            assert labels[0] == 0 and labels == sorted(labels) and labels[-1] >= max(per_hour.values())
            assert 3 <= len(labels) <= 6 and len(grid) == len(labels)
            scale = (grid[0] - grid[-1]) / labels[-1]
            assert len(drawn) == 24
            for hour, (y, height) in enumerate(drawn):
                assert height == pytest.approx(per_hour.get(hour, 0) * scale, abs=0.05)
                assert y + height == pytest.approx(grid[0], abs=0.05)
            # With one day in the lake there is nothing to compare with: no "– vs …".
            assert section.locator(".card .change").all_inner_texts() == [""] * 8
            # A site whose logs carry no country says so under its Countries table.
            countries = {r["value"] for r in gold_sql(root, "daily_dimension_stats",
                                                      f"site = '{site}' and dimension = 'country'")}
            note = section.locator('[data-note="country"]')
            assert note.count() == (countries == {"(none)"})
        assert with_scroll == 1  # the beacon's site, and only it, measures scroll depth
        # Core Web Vitals of the beacon site: the p75 of gold web_vitals_daily.
        vitals = {r["metric"]: r for r in gold_sql(root, "web_vitals_daily", "path = '(all)'")}
        assert set(vitals) == {"LCP", "TTFB"}
        shown = page.locator('section[data-site="www.example.com"] table[data-table="web_vitals"] tr')
        assert shown.nth(1).locator("td").all_inner_texts() == [
            "LCP", f"{int(vitals['LCP']['p75'])} ms", f"{vitals['LCP']['samples']:,}"]
        quarantined = duckdb.sql(f"select count(*) from read_parquet('{root}/quarantine/*/*/*.parquet')").fetchall()[0][0]
        assert page.locator("#quarantined").inner_text() == f"{quarantined:,}"
        mobile = browser.new_page()
        mobile.set_viewport_size({"width": 390, "height": 844})
        mobile.goto(html_path.as_uri())
        # Readable on a phone: nothing wider than the screen.
        assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
        mobile.screenshot(path=str(OUT / "daily_report_phone.png"))
    # The Markdown summary and CSVs carry the same numbers.
    md = (root / f"reports/dt={DAY}/daily_report.md").read_text()
    for m in metrics.values():
        assert f"| Visitors | {m['visitors']:,} |" in md
    transitions = pl.read_csv(root / f"reports/dt={DAY}/page_transitions.csv")
    assert transitions.filter(pl.col("to_path") == "(exit)").height >= len(metrics)
    assert transitions.group_by("site", "from_path").agg(pl.col("rank").max())["rank"].max() <= 3
    hourly = pl.read_csv(root / f"reports/dt={DAY}/hourly.csv")
    assert hourly.group_by("site").agg(pl.col("requests").sum()).sort("site").rows() == \
        sorted((s, m["requests"]) for s, m in metrics.items())


HOSTILE_PATH = "/<script>alert(1)</script>"
HOSTILE_REF = '"><img src=x onerror=alert(2)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'


def test_hostile_paths_and_referrers_are_text_not_markup(tmp_path):
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    rows = [pv(f"r{i}", at + timedelta(minutes=i), visitor=f"v{i}", path=p, referrer=HOSTILE_REF)
            for i, p in enumerate([HOSTILE_PATH, HOSTILE_PATH, FORMULA, "/"])]
    write_silver(tmp_path, rows)
    settings = Settings(lake=Lake(root=str(tmp_path)), report=Report(slow_path_min_requests=1))
    build(settings, Window(DAY, DAY))
    write_report(settings, DAY)
    html = (tmp_path / f"reports/dt={DAY}/daily_report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    dialogs = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((tmp_path / f"reports/dt={DAY}/daily_report.html").as_uri())
        page.wait_for_timeout(300)
        assert page.locator("script, img").count() == 0
        tops = page.locator('table[data-top="page"]').inner_text()
        assert HOSTILE_PATH in tops  # shown, as text
        assert HOSTILE_REF in page.locator('table[data-top="referrer_domain"]').inner_text()
    assert dialogs == []
    # In the CSV the formula is neutralised, the script is plain text.
    top = list(csv.DictReader(io.StringIO((tmp_path / f"reports/dt={DAY}/top_values.csv").read_text())))
    values = {r["value"] for r in top if r["dimension"] == "page"}
    assert "'" + FORMULA in values and FORMULA not in values and HOSTILE_PATH in values
    md = (tmp_path / f"reports/dt={DAY}/daily_report.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_the_cards_compare_with_the_day_before_only_where_there_is_one(tmp_path):
    # Two page views by two visitors on 1 November, three by three on the 2nd: +50% each.
    before, at = datetime(2026, 11, 1, 9, tzinfo=UTC), datetime(2026, 11, 2, 9, tzinfo=UTC)
    rows = [pv(f"a{i}", before + timedelta(minutes=i), visitor=f"a{i}") for i in range(2)]
    rows += [pv(f"b{i}", at + timedelta(minutes=i), visitor=f"b{i}") for i in range(3)]
    write_silver(tmp_path, rows)
    settings = Settings(lake=Lake(root=str(tmp_path)))
    build(settings, Window(DAY - timedelta(days=1), DAY))
    write_report(settings, DAY)
    with chromium() as browser:
        page = browser.new_page()
        page.goto((tmp_path / f"reports/dt={DAY}/daily_report.html").as_uri())
        card = page.locator('[data-metric="Page views"]')
        assert card.locator(".v").inner_text() == "3"
        # No day a week earlier: the week comparison is left out, not shown as a dash.
        assert card.locator(".change").inner_text() == "+50.0% vs day before"
        assert page.locator('[data-metric="Visitors"] .change').inner_text() == "+50.0% vs day before"


def test_a_day_without_data_renders_a_no_data_page(tmp_path, capsys):
    assert main(["report", "--lake", str(tmp_path), "--date", "2026-01-05"]) == 0
    assert "no data" in capsys.readouterr().out
    html = tmp_path / "reports/dt=2026-01-05/daily_report.html"
    with chromium() as browser:
        page = browser.new_page()
        page.goto(html.as_uri())
        assert "No data for 2026-01-05" in page.locator("#no-data").inner_text()
        page.screenshot(path=str(OUT / "no_data.png"))


def test_a_report_or_export_that_would_mislead_is_refused_before_anything_is_written(tmp_path, capsys):
    """A day with silver but no gold is not a "no data" day, and a site the day does not know
    is a typo: each is one line saying what to do, and no report file is written."""
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    write_silver(tmp_path, [pv("a", at), pv("b", at + timedelta(minutes=5), visitor="v2")])
    assert main(["report", "--lake", str(tmp_path), "--date", "2026-11-01", "--through", "2026-11-02"]) == 2
    assert capsys.readouterr().err == ("error: gold daily_site_metrics for 2026-11-02 is not built yet, though "
                                       "silver has data for that day: run `footfall build --date 2026-11-02` "
                                       "first\n")
    assert not (tmp_path / "reports").exists()
    assert main(["export", "sessions", "--lake", str(tmp_path), "--date", "2026-11-02"]) == 2
    assert "error: gold sessions for 2026-11-02 is not built yet" in capsys.readouterr().err
    build(Settings(lake=Lake(root=str(tmp_path))), Window(DAY, DAY))
    assert main(["report", "--lake", str(tmp_path), "--date", "2026-11-02", "--site", "www.exmaple.com"]) == 2
    assert capsys.readouterr().err == \
        "error: no site 'www.exmaple.com' in the 30 days to 2026-11-02; sites: www.example.com\n"
    assert not (tmp_path / "reports").exists()
    # A known site on a day it had no traffic gets its report, saying so.
    build(Settings(lake=Lake(root=str(tmp_path))), Window(DAY + timedelta(days=1), DAY + timedelta(days=1)))
    assert main(["report", "--lake", str(tmp_path), "--date", "2026-11-03", "--site", "www.example.com"]) == 0
    assert "2026-11-03: no data" in capsys.readouterr().out
    assert main(["report", "--lake", str(tmp_path), "--date", "2026-11-02", "--site", "www.example.com"]) == 0
    assert "2026-11-02: 1 site(s)" in capsys.readouterr().out
    assert main(["export", "sessions", "--lake", str(tmp_path), "--date", "2026-11-02"]) == 0
    assert "2 rows of sessions" in capsys.readouterr().err  # two visitors, one page view each


def test_export_is_spreadsheet_safe_and_covers_the_range(tmp_path, capsys):
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    rows = [pv("a", at, path=FORMULA), pv("b", at + timedelta(days=1), visitor="v2", path="+1-555"),
            pv("c", at + timedelta(days=1, minutes=1), visitor="v3", path="/-not-a-formula")]
    write_silver(tmp_path, rows)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(DAY, DAY + timedelta(days=1)), ["page_views"])
    out = tmp_path / "pv.csv"
    assert main(["export", "page_views", "--lake", str(tmp_path), "--date", "2026-11-02",
                 "--through", "2026-11-03", "--out", str(out)]) == 0
    exported = list(csv.DictReader(out.open()))
    assert sorted(r["path"] for r in exported) == sorted(["'" + FORMULA, "'+1-555", "/-not-a-formula"])
    assert "3 rows of page_views" in capsys.readouterr().err
    # Numbers stay numbers; only text columns are touched.
    frame = neutralise(pl.DataFrame({"n": [-1, 2], "t": ["-1", "@x"]}))
    assert frame.rows() == [(-1, "'-1"), (2, "'@x")]


def test_delivery_to_s3_and_ses(built_lake, monkeypatch):
    root, settings = built_lake
    with moto_server() as url:
        apply_env(monkeypatch, url)
        boto3.client("s3").create_bucket(Bucket="reports")
        ses = boto3.client("ses")
        ses.verify_email_identity(EmailAddress="footfall@example.com")
        config = root.parent / "footfall.toml"
        config.write_text('[report]\ndeliver_s3 = "s3://reports/daily"\n'
                          'email_to = ["team@example.com"]\nemail_from = "footfall@example.com"\n')
        assert main(["report", "--config", str(config), "--lake", str(root), "--date", DAY.isoformat()]) == 0
        keys = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="reports")["Contents"])
        assert f"daily/dt={DAY}/daily_report.html" in keys and f"daily/dt={DAY}/hourly.csv" in keys
        body = boto3.client("s3").get_object(Bucket="reports", Key=f"daily/dt={DAY}/daily_report.html")["Body"].read()
        assert body == (root / f"reports/dt={DAY}/daily_report.html").read_bytes()
        assert ses.get_send_quota()["SentLast24Hours"] == 1
