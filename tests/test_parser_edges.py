"""Edge cases of lines, fields and decoding that the format doc calls out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from rtl_parser.fields import REALTIME_FIELDS, realtime_positions
from rtl_parser.lines import split_lines
from rtl_parser.normalise import forwarded_first, referrer_columns
from rtl_parser.realtime import RealtimeParser

FIELDS = ["timestamp", "c-ip", "sc-status", "cs-method", "cs-host", "cs-uri-stem",
          "x-edge-request-id", "cs-user-agent", "x-forwarded-for", "cs-headers",
          "cs-header-names", "cs-headers-count"]


def line(**values: str) -> bytes:
    base = {"timestamp": "1700000000.123", "c-ip": "192.0.2.1", "sc-status": "200",
            "cs-method": "GET", "cs-host": "www.example.com", "cs-uri-stem": "/",
            "x-edge-request-id": "id-1", "cs-user-agent": "Mozilla/5.0", "x-forwarded-for": "-",
            "cs-headers": "host:www.example.com%0A", "cs-header-names": "host%0A",
            "cs-headers-count": "1"}
    base.update(values)
    return "\t".join(base[f] for f in FIELDS).encode()


def parse(data: bytes, header: str = "x-visitor-id"):
    return RealtimeParser(FIELDS, visitor_header=header).feed(data)


def test_positions_follow_canonical_order_not_config_order():
    assert realtime_positions(["asn", "timestamp", "c-ip"]) == ["timestamp", "c-ip", "asn"]
    assert len(REALTIME_FIELDS) == 67


def test_blank_lines_crlf_and_missing_final_newline():
    data = line() + b"\r\n\n\n" + line(**{"x-edge-request-id": "id-2"})
    result = parse(data)
    assert result.lines == 2 and result.rows.num_rows == 2
    assert result.rows.column("line_no").to_pylist() == [1, 4]



def test_short_long_and_quoted_lines_do_not_shift_their_neighbours():
    # A short first line must not fix the column count for the rest; extra columns are
    # counted, not misread; quotes are data (log fields are never quoted).
    short = b"1700000000.000\t192.0.2.1\t200"
    extra = line(**{"x-edge-request-id": "id-x"}) + b"\tsurplus\tmore"
    quoted = line(**{"x-edge-request-id": "id-q", "cs-uri-stem": '/"a\tb"'.replace("\t", "%09")})
    result = parse(short + b"\n" + extra + b"\r\n" + quoted + b"\n")
    assert result.lines == 3
    assert [r["reason"] for r in result.rejects.to_pylist()] == ["expected 12 fields, got 3"]
    rows = {r["request_id"]: r for r in result.rows.to_pylist()}
    assert rows["id-x"]["status"] == 200 and rows["id-x"]["site"] == "www.example.com"
    assert rows["id-q"]["path"] == '/"a\tb"'
    assert result.extra_columns == 1


def test_lines_of_two_objects_parse_as_one_batch_without_merging():
    from rtl_parser.lines import concat

    first = split_lines(line(**{"x-edge-request-id": "a"}))  # no final newline
    second = split_lines(line(**{"x-edge-request-id": "b"}) + b"\n")
    result = RealtimeParser(FIELDS).parse_lines(concat([(0, first), (1, second)]))
    assert result.rows.column("request_id").to_pylist() == ["a", "b"]
    assert result.rows.column("part").to_pylist() == [0, 1]

def test_invalid_utf8_and_overlong_lines_are_rejected_with_reason():
    bad = line(**{"cs-uri-stem": "/ok"}).replace(b"/ok", b"/\xff\xfe")
    long = line(**{"cs-uri-stem": "/" + "a" * 70000})
    result = parse(bad + b"\n" + long + b"\n" + line() + b"\n")
    reasons = [r["reason"] for r in result.rejects.to_pylist()]
    assert reasons[0] == "invalid UTF-8"
    assert reasons[1].startswith("line longer than 65536 bytes")
    assert result.rows.num_rows == 1 and result.lines == 3


def test_split_lines_keeps_valid_non_ascii():
    text = "a\tcafé\n".encode()
    lines = split_lines(text)
    assert lines.count == 1 and not lines.rejects


def test_missing_value_dash_and_status_000():
    row = parse(line(**{"sc-status": "000", "cs-user-agent": "-"})).rows.to_pylist()[0]
    assert row["status"] == 0 and row["user_agent"] is None


def test_unparseable_numbers_are_rejected_naming_the_field():
    result = parse(line(**{"sc-status": "2OO"}))
    assert result.rejects.to_pylist()[0]["reason"] == "sc-status is not a number: 2OO"


def test_percent_25_decodes_once_and_user_agent_decodes_at_most_twice():
    row = parse(line(**{"cs-uri-stem": "/a%2520b?q=100%25", "cs-user-agent": "A%2520B%252541"})).rows.to_pylist()[0]
    assert row["path"] == "/a%20b" and row["query"] == "q=100%"
    assert row["user_agent"] == "A B%41"  # two decodes, never a third


# (referrer, domain, path), worked out by hand from `urlsplit`'s rules.
REFERRERS = [
    ("https://www.Example.com/a/b?x=1#f", "example.com", "/a/b"),
    ("example.com/p", "example.com", "/p"),  # scheme-less: read as a host first
    ("HTTPS://WWW.A.B/C", "a.b", "/C"),  # the host's case folds, the path's does not
    ("http://user:pw@Host.COM:8080", "host.com", "/"),
    ("http://a.com#frag/x", "a.com", "/"),
    ("https://a.com/x%20y?z", "a.com", "/x%20y"),
    ("android-app://com.google.android.gm/", "com.google.android.gm", "/"),
    ("a.com/x?r=http://b.com", None, None),  # "a.com/x?r=http" is no scheme, "a.com" no host
    ("weird:stuff://x", None, None),
    ("http://www./", None, None),
    ("-", "-", "/"),
    (" https://a.com/", "a.com", "/"),  # leading spaces and controls are stripped
    ("https://a.\tcom/x", "a.com", "/x"),  # tabs and newlines removed anywhere
    ("http://[2001:DB8::1]:80/p", "2001:db8::1", "/p"),
    ("http://[fe80::1%Eth0]/", "fe80::1%Eth0", "/"),  # an IPv6 zone keeps its case,
    ("http://Ab%Cd.com/", "ab%Cd.com", "/"),  # as does all after a `%` in any host
    ("http://[::1/p", None, None),  # an unclosed bracket is no URL
    ("http://[1.2.3.4]/", None, None),  # nor an IPv4 address in brackets
    ("https://café.com/x", "café.com", "/x"),
    ("", None, None),
]


def test_referrer_domain_and_path():
    got = referrer_columns(pl.Series([r for r, _, _ in REFERRERS]))
    assert list(zip(got["referrer_domain"], got["referrer_path"], strict=True)) == [
        (d, p) for _, d, p in REFERRERS]


def test_utm_values_decode_as_a_form_would():
    """`+` is a space in a query value even where the value has no `%` escape. (The log
    writes the client's `%` as `%25`: the client sent `caf%C3%A9+au+lait` and `e%2Bmail`.)"""
    stem = "/?utm_source=news&utm_campaign=black+friday&utm_term=caf%25C3%25A9+au+lait&utm_medium=e%252Bmail"
    row = parse(line(**{"cs-uri-stem": stem})).rows.to_pylist()[0]
    assert (row["utm_source"], row["utm_campaign"], row["utm_term"], row["utm_medium"]) == (
        "news", "black friday", "café au lait", "e+mail")


def test_utm_values_stay_on_their_own_rows():
    """Campaign values land on the rows that carry them, among rows without a query, with
    other queries, and with an empty or absent key."""
    stems = ["/a", "/b?utm_source=mail&utm_medium=", "/c?page=2", "/d?x=1&utm_medium=cpc%2520x",
             "/e?utm_source=&utm_term=a+b", "/f", "/g?gutm_source=no"]
    data = b"\n".join(line(**{"cs-uri-stem": s, "x-edge-request-id": f"id-{i}"}) for i, s in enumerate(stems))
    rows = parse(data).rows.to_pylist()
    assert [(r["path"], r["utm_source"], r["utm_medium"], r["utm_term"]) for r in rows] == [
        ("/a", None, None, None), ("/b", "mail", None, None), ("/c", None, None, None),
        ("/d", None, "cpc x", None), ("/e", None, None, "a b"), ("/f", None, None, None),
        ("/g", None, None, None)]


def test_visitor_header_case_insensitive_and_not_forgeable():
    headers = "Host:x%0AX-Visitor-ID:abc%2520def%0A"
    row = parse(line(**{"cs-headers": headers, "cs-header-names": "Host%0AX-Visitor-ID%0A",
                        "cs-headers-count": "2"})).rows.to_pylist()[0]
    assert row["visitor_token"] == "abc%20def"  # decoded once: what the client sent
    # An encoded newline inside another header's value cannot start a new header.
    forged = "host:x%0Areferer:http://a/%250Ax-visitor-id:evil%0A"
    row = parse(line(**{"cs-headers": forged, "cs-header-names": "host%0Areferer%0A",
                        "cs-headers-count": "2"})).rows.to_pylist()[0]
    assert row["visitor_token"] is None
    # A header whose name merely ends with the visitor header's name is another header.
    other = "host:x%0Anot-x-visitor-id:zzz%0A"
    row = parse(line(**{"cs-headers": other, "cs-header-names": "host%0Anot-x-visitor-id%0A",
                        "cs-headers-count": "2"})).rows.to_pylist()[0]
    assert row["visitor_token"] is None


def test_visitor_header_in_any_case_at_any_position_and_of_any_length():
    def token(headers: str) -> str | None:
        return parse(line(**{"cs-headers": headers, "cs-header-names": "host%0Ax-visitor-id%0A",
                             "cs-headers-count": "2"})).rows.to_pylist()[0]["visitor_token"]

    assert token("host:x%0AX-vIsItOr-Id:Q1%0A") == "Q1"
    assert token("X-Visitor-Id:first%0Ahost:x%0A") == "first"  # the field's first entry
    assert token("host:x%0Ax-visitor-id:last") == "last"  # no terminator after the last
    long = "v" * 300 + "w"  # longer than the slice the value is usually cut from
    assert token(f"host:x%0Ax-visitor-id:{long}%0Aaccept:y%0A") == long
    assert token(f"x-visitor-id:{long}") == long
    # The first of two entries wins, whatever their case.
    assert token("host:x%0AX-VISITOR-ID:one%0Ax-visitor-id:two%0A") == "one"


def test_headers_truncated_when_count_exceeds_kept():
    row = parse(line(**{"cs-headers": "host:x%0Aaccept:y%0A", "cs-header-names": "host%0Aaccept%0A",
                        "cs-headers-count": "5"})).rows.to_pylist()[0]
    assert row["headers_truncated"] is True


def test_forwarded_for_oddities():
    values = ["203.0.113.7, 10.0.0.1", "203.0.113.7:5678", "[2001:db8::1]:443",
              "unknown, 198.51.100.2", "2001:db8::2", "\\x20203.0.113.9", None]
    frame = pl.DataFrame({"x": pl.Series(values, dtype=pl.String)})
    got = frame.select(forwarded_first(pl.col("x"))).to_series().to_list()
    assert got == ["203.0.113.7", "203.0.113.7", "2001:db8::1", None, "2001:db8::2",
                   "203.0.113.9", None]


def test_timestamp_out_of_range_is_rejected():
    result = parse(line(timestamp="99.5"))
    assert result.rejects.to_pylist()[0]["reason"] == "timestamp out of range"


def test_numbers_too_large_for_their_column_reject_the_line_not_the_batch():
    """Found by the fuzz test: "1600020865E895" reads as infinity, and once crashed the
    whole batch when cast to whole milliseconds."""
    fields = realtime_positions([*FIELDS, "time-taken"])  # as the log orders them
    base = dict(zip(FIELDS, line().decode().split("\t"), strict=True))
    lines = [("\t".join({**base, "x-edge-request-id": f"id-{i}", "timestamp": ts, "time-taken": tt}[f]
                         for f in fields)).encode()
             for i, (ts, tt) in enumerate([("1600020865E895", "0.1"), ("nan", "0.1"),
                                           ("1700000000.5", "1e400"), ("1700000000.5", "3000000"),
                                           ("1700000000.5", "0.25")])]
    result = RealtimeParser(fields).feed(b"\n".join(lines))
    assert [r["reason"] for r in result.rejects.to_pylist()] == [
        "timestamp out of range", "timestamp out of range", "time-taken out of range",
        "time-taken out of range"]  # 3,000,000 s is more milliseconds than the column holds
    assert result.rows.column("time_taken_ms").to_pylist() == [250]


def test_v2_json_lines_read_like_their_w3c_twins():
    """Numbers as text, `-` as missing, either name of an aliased field, JSON space around
    an object (CRLF included); empty objects, arrays and broken lines are each rejected."""
    from rtl_parser.standard import StandardJsonParser

    data = (b'{"timestamp(ms)": "1762045323456", "cs(Host)": "d1.cloudfront.net", "sc-status": 304,'
            b' "cs-uri-stem": "/a%2520b", "cs(Referer)": "-", "x-edge-request-id": "r1"}\r\n'
            b'\t { "timestamp(ms)": "1762045323457", "distribution-host": "d2.cloudfront.net",'
            b' "sc-status": "200", "cs-referer": "https://www.Example.org/x", "x-edge-request-id": "r2"} \n'
            b'{ }\n[1]\n{"timestamp(ms)": "1762045323458"\n')
    result = StandardJsonParser().feed(data)
    rows = result.rows.to_pylist()
    assert [(r["request_id"], r["status"], r["distribution_host"], r["path"], r["referrer_domain"])
            for r in rows] == [("r1", 304, "d1.cloudfront.net", "/a%20b", None),
                               ("r2", 200, "d2.cloudfront.net", None, "example.org")]
    assert [(r["line_no"], r["reason"]) for r in result.rejects.to_pylist()] == [
        (3, "not a JSON object"), (4, "not a JSON object"), (5, "not a JSON object")]
    assert result.lines == 5


def test_v2_json_lines_without_log_fields_are_each_rejected():
    """Found by the fuzz test: objects with no known field (or none at all) once collapsed
    to one row and crashed the batch; each must be its own reject."""
    from rtl_parser.standard import StandardJsonParser

    result = StandardJsonParser().feed(b'{"v":1,"a":2}\n{}\n{"x":1}\n[1]\n')
    assert (result.frame.height, result.rejects.num_rows, result.lines) == (0, 4, 4)
    assert result.rejects.column("reason").to_pylist() == [
        "missing timestamp", "not a JSON object", "missing timestamp", "not a JSON object"]


def test_v2_parquet_columns_in_any_spelling_with_text_or_numbers():
    """Column names as the field (`sc-status`), as columnar tools spell it (`timestamp_ms`,
    `CS_USER_AGENT`), numbers as numbers; a bad row is rejected with its values as JSON,
    and a row without a request id is keyed by a hash of its values."""
    import pyarrow as pa

    from rtl_parser.standard import StandardParquetParser

    table = pa.table({
        "timestamp_ms": ["1762045323456", "1762045323457", "not-a-time"],
        "sc-status": pa.array([200, 404, 200], pa.int16()),
        "time-taken": [0.25, None, 1.0],
        "CS_USER_AGENT": ["Mozilla/5.0%2520(X11)", "-", "-"],
        "x_edge_request_id": ["r1", None, "r3"],
        "cs_host": ["d1.cloudfront.net"] * 3,
        "x_host_header": ["www.example.com"] * 3,
        "unrelated": [1, 2, 3],
    })
    parser = StandardParquetParser()
    parser.feed(table.slice(0, 0))
    result = parser.feed(table)
    rows = result.rows.to_pylist()
    assert [(r["line_no"], r["status"], r["time_taken_ms"], r["user_agent"], r["site"],
             r["distribution_host"]) for r in rows] == [
        (1, 200, 250, "Mozilla/5.0 (X11)", "www.example.com", "d1.cloudfront.net"),
        (2, 404, None, None, "www.example.com", "d1.cloudfront.net")]
    assert rows[0]["ts"] == datetime(2025, 11, 2, 1, 2, 3, 456000, tzinfo=UTC)
    assert rows[0]["request_id"] == "r1"
    assert rows[1]["request_id"].startswith("line-")  # no id: a hash of the row's values
    [reject] = result.rejects.to_pylist()
    assert (reject["line_no"], reject["reason"]) == (3, "timestamp(ms) is not a number: not-a-time")
    assert json.loads(reject["raw"]) == {
        "timestamp_ms": "not-a-time", "sc-status": 200, "time-taken": 1.0, "CS_USER_AGENT": "-",
        "x_edge_request_id": "r3", "cs_host": "d1.cloudfront.net", "x_host_header": "www.example.com",
        "unrelated": 3}
    assert result.lines == 3 and parser.next_line == 4
