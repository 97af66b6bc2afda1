"""Real-time log lines written by others (shared/fixtures/cloudfront/realtime), parsed with
the field set each was written with. Expected values are read off the raw lines by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rtl_parser.fields import REALTIME_FIELDS_2020
from rtl_parser.realtime import RealtimeParser
from tests.conftest import FIXTURES

RT = FIXTURES / "realtime"
FIELDS_44 = ["timestamp", "c-ip", "s-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken", "cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query", "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher", "x-edge-result-type", "fle-encrypted-fields", "fle-status", "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end", "c-port", "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept", "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count", "origin-fbl", "origin-lbl", "asn"]
FIELDS_12 = ["timestamp", "c-ip", "sc-status", "cs-uri-stem", "cs-bytes", "x-edge-location", "time-taken", "cs-user-agent", "cs-referer", "cs-uri-query", "x-edge-result-type", "asn"]


def parse(name: str, fields, header: str = "x-visitor-id"):
    result = RealtimeParser(fields, visitor_header=header).feed((RT / name).read_bytes())
    assert result.rejects.num_rows == 0, result.rejects.to_pylist()
    return result, result.rows.to_pylist()


def test_44_fields_with_s_ip_custom_header_and_truncation():
    result, rows = parse("davidwells-44-fields-custom-header.tsv", FIELDS_44, header="X-Api-Key")
    assert result.lines == 1 and len(rows) == 1
    row = rows[0]
    # s-ip (65.8.177.136) sits between c-ip and time-to-first-byte: nothing may shift.
    assert row["client_ip"] == "32.142.164.10"
    assert row["ttfb_ms"] == 253 and row["status"] == 200 and row["bytes_sent"] == 783
    assert row["bytes_received"] == 201 and row["time_taken_ms"] == 253
    assert row["origin_fbl_ms"] == 232 and row["origin_lbl_ms"] == 232 and row["asn"] == 7018
    assert row["ts"] == datetime.fromtimestamp(1759687234.191, UTC)
    assert row["edge_location"] == "SFO53-P9" and row["country"] == "US"
    assert row["content_type"] == "application/json" and row["tls_protocol"] == "TLSv1.3"
    assert row["user_agent"] == "vscode-restclient" and row["referrer_domain"] is None
    # The X-Api-Key header, found case-insensitively in cs-headers.
    assert row["visitor_token"] == "pfCCh7ygOr8Gwv8BoGWHG3NO54Csd4aZ6tz1wHBx"
    # 21 headers kept in cs-headers, cs-headers-count says 26.
    assert row["headers_truncated"] is True
    assert row["request_id"] == "HoIW-MaV1Qu7J5kwqnAYBNlsg4iI2MBYb5OXBfykwRAZpAqHmdWtQA=="


def test_304_refreshhit_http2_headers_cookie_not_counted_as_truncation():
    _, (row,) = parse("datadog-dashcon-304-refreshhit.tsv", REALTIME_FIELDS_2020)
    assert row["status"] == 304 and row["content_type"] is None
    assert row["edge_result_type"] == "RefreshHit" and row["http_version"] == "HTTP/2.0"
    assert row["site"] == "preview.dashcon.io"
    assert row["distribution_host"] == "d3gpvymg9z2unc.cloudfront.net"
    assert row["path"] == "/michaelw/real-time-logs-all_fields/2020/speakers/"
    assert row["user_agent"].startswith("Mozilla/5.0 (iPhone; CPU iPhone OS 13_7 like Mac OS X)")
    assert row["referrer_domain"] == "preview.dashcon.io"
    assert row["referrer_path"] == "/michaelw/real-time-logs-all_fields/2020/speakers/alex-landau/"
    # 8 headers kept, count 9: the ninth is `cookie`, which CloudFront logs in cs-cookie.
    assert row["headers_truncated"] is False
    assert row["time_taken_ms"] == 140 and row["ttfb_ms"] == 0


def test_font_asset_fields():
    _, (row,) = parse("datadog-dashcon-200-miss-font.tsv", REALTIME_FIELDS_2020)
    assert row["path"].endswith("/2020/font/CalibreWeb-Medium.woff2")
    assert row["content_type"] == "font/woff2" and row["bytes_sent"] == 31126
    assert row["ttfb_ms"] == 168 and row["time_taken_ms"] == 237 and row["bytes_received"] == 82
    assert row["edge_location"] == "SFO20-C1" and row["edge_result_type"] == "Miss"
    assert row["headers_truncated"] is False  # 12 kept + cookie named = 13


def test_http11_mixed_case_headers_and_reencoded_percent():
    _, (row,) = parse("claygregory-kinesis-1-0.tsv", REALTIME_FIELDS_2020)
    assert row["protocol"] == "http" and row["tls_protocol"] is None
    assert row["path"] == "/i"
    # `%253A` in the log is the client's `%3A`: one decode restores what was sent.
    assert row["query"].startswith("stm=1607374321563&e=pp&url=http%3A%2F%2Flocalhost%3A5000%2Fpage-2")
    assert row["user_agent"] == ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:83.0) "
                                 "Gecko/20100101 Firefox/83.0")
    assert row["headers_truncated"] is False  # 8 of 8
    assert row["referrer_domain"] == "localhost" and row["referrer_path"] == "/page-2"
    assert row["content_type"] == "image/gif" and row["country"] == "US"


@pytest.mark.parametrize(
    ("name", "client", "query_part", "edge"),
    [
        ("ownstats-12-fields-pageview.tsv", "91.48.244.135",
         "u=http%3A%2F%2Flocalhost%3A3000%2Fazure", "HAM50-C2"),
        ("ownstats-12-fields-ipv6-referer.tsv", "2600:1700:2328:7f60:fc5c:8867:7522:1bef",
         "r=https%3A%2F%2Fcloudsecdocs.com%2F", "SFO53-C1"),
        ("ownstats-12-fields-tab-event.tsv", "91.48.244.135", "en=tabHidden&pr=%7B%7D", "HAM50-P2"),
    ],
)
def test_12_field_set(name, client, query_part, edge):
    result, (row,) = parse(name, FIELDS_12)
    assert result.lines == 1
    assert row["client_ip"] == client and row["edge_location"] == edge
    assert row["path"] == "/hello.gif" and query_part in row["query"]
    assert row["status"] == 200 and row["edge_result_type"] == "Hit"
    # No x-edge-request-id in this field set: the row is keyed by a hash of its line.
    assert row["request_id"].startswith("line-")
    assert row["site"] is None  # no cs-host selected: the pipeline fills rtl.site


def test_ipv6_file_without_trailing_newline_has_its_asn():
    raw = (RT / "ownstats-12-fields-ipv6-referer.tsv").read_bytes()
    assert not raw.endswith(b"\n")
    _, (row,) = parse("ownstats-12-fields-ipv6-referer.tsv", FIELDS_12)
    assert row["asn"] == 7018 and row["referrer_domain"] == "mapthe.cloud"
    assert row["time_taken_ms"] == 2


def test_wrong_field_set_is_rejected_not_misread():
    # The 12-field line read as the 46-field default has too few columns.
    result = RealtimeParser().feed((RT / "ownstats-12-fields-pageview.tsv").read_bytes())
    assert result.rows.num_rows == 0
    assert result.rejects.to_pylist()[0]["reason"] == "expected 46 fields, got 12"


def test_unknown_trailing_columns_are_kept_and_counted():
    line = (RT / "claygregory-kinesis-1-0.tsv").read_bytes().rstrip(b"\n") + b"\textra1\textra2\n"
    result = RealtimeParser(REALTIME_FIELDS_2020).feed(line)
    assert result.rows.num_rows == 1 and result.extra_columns == 1
    assert result.rows.to_pylist()[0]["status"] == 200
