"""Standard (access) log files written by others, parsed by their #Fields line or the
33-field layout. Expected values are read off the raw files by hand."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pyarrow as pa

from rtl_parser.standard import StandardParser
from tests.conftest import FIXTURES

STD = FIXTURES / "standard"


def parse(name: str):
    result = StandardParser().feed((STD / name).read_bytes())
    assert result.rejects.num_rows == 0, result.rejects.to_pylist()
    return result, result.rows.to_pylist()


def test_aws_docs_example_33_fields():
    result, rows = parse("aws-docs-example.log")
    assert result.lines == 6  # the two # directives are not records
    first, favicon = rows[0], rows[3]
    assert first["ts"] == datetime(2019, 12, 4, 21, 2, 31, tzinfo=UTC)
    assert first["site"] == "d111111abcdef8.cloudfront.net" and first["status"] == 200
    assert first["content_type"] == "text/html" and first["tls_protocol"] == "TLSv1.2"
    assert [r["time_taken_ms"] for r in rows[:3]] == [1, 0, 1]
    # In standard logs x-host-header is the site and cs(Host) the distribution.
    assert favicon["site"] == "www.example.com"
    assert favicon["distribution_host"] == "d111111abcdef8.cloudfront.net"
    assert favicon["status"] == 502 and favicon["edge_detailed_result_type"] == "OriginDnsError"
    assert favicon["protocol"] == "http" and favicon["tls_protocol"] is None
    assert favicon["referrer_domain"] == "example.com" and favicon["time_taken_ms"] == 102
    assert rows[5]["user_agent"] == "curl/7.55.1"


def test_aws_samples_26_fields_double_encoded_agents_and_gzip_original():
    result, rows = parse("aws-samples-2018-26-fields.log")
    raw_lines = (STD / "aws-samples-2018-26-fields.log").read_text().splitlines()
    assert result.lines == len(raw_lines) - 2 == 66
    bing = [r for r in rows if "bingbot" in (r["user_agent"] or "")]
    assert len(bing) == sum("bingbot" in line for line in raw_lines)
    assert bing[0]["user_agent"] == "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
    firefox = next(r for r in rows if r["path"] == "/index.html" and r["status"] == 200)
    assert firefox["user_agent"] == ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:61.0) "
                                     "Gecko/20100101 Firefox/61.0")
    assert {r["edge_result_type"] for r in rows} >= {"LambdaGeneratedResponse", "Hit", "Miss"}
    gz = StandardParser().feed(gzip.decompress((STD / "aws-samples-2018-26-fields.log.gz").read_bytes()))
    assert gz.rows.to_pylist() == rows


def test_claygregory_2014_24_fields():
    result, rows = parse("claygregory-2014-24-fields.log")
    page, mp3 = rows
    assert page["path"] == "/view/my/file.html" and page["status"] == 200
    assert page["referrer_domain"] == "displaymyfiles.com"  # scheme-less referrer
    assert page["edge_result_type"] == "RefreshHit" and page["bytes_received"] is None
    assert mp3["query"] == "a=b&c=d" and mp3["status"] == 304 and mp3["bytes_sent"] == 2390282
    assert mp3["time_taken_ms"] == 2 and mp3["ttfb_ms"] is None  # field absent in 2014


def test_headerless_401_with_double_encoded_agent():
    _, (row,) = parse("datadog-401-double-encoded-ua.log")
    assert row["method"] == "POST" and row["status"] == 401
    assert row["user_agent"] == "NetSuite/2019.2 (SuiteScript)"
    assert row["site"] == "www.farmersbusinessnetwork.com"
    assert row["distribution_host"] == "dqok34epbkzv2.cloudfront.net"
    assert row["ttfb_ms"] == 67 and row["content_type"] == "application/json"


def test_headerless_2025_post_with_query():
    _, (row,) = parse("davidwells-2025-post.log")
    assert row["ts"] == datetime(2025, 10, 5, 1, 6, 21, tzinfo=UTC)
    assert row["method"] == "POST" and row["query"] == "test=123" and row["path"] == "/data"
    assert row["user_agent"] == "curl/8.7.1" and row["http_version"] == "HTTP/2.0"


def as_v2_parquet(name: str) -> pa.Table:
    """A fixture's records as standard logging v2 writes them to S3 as Parquet: a text
    column per field, named as in Athena's documented table for these files (`cs(Host)`
    → `cs_host`, `time-taken` → `time_taken`)."""
    lines = (STD / name).read_text().splitlines()
    fields = next(line for line in lines if line.startswith("#Fields:")).split()[1:]
    records = [line.split("\t") for line in lines if line and not line.startswith("#")]
    columns = [f.lower().replace("(", "_").replace(")", "").replace("-", "_") for f in fields]
    return pa.table({c: [r[i] for r in records] for i, c in enumerate(columns)})


def test_v2_parquet_reads_like_the_same_records_as_w3c():
    """Three files of others, turned into v2 Parquet: the same rows as their W3C text."""
    from rtl_parser.standard import StandardParquetParser

    for name in ("aws-docs-example.log", "aws-samples-2018-26-fields.log", "claygregory-2014-24-fields.log"):
        w3c = StandardParser().feed((STD / name).read_bytes())
        table = as_v2_parquet(name)
        assert table.num_rows == w3c.lines > 0 and "cs_host" in table.column_names
        parser = StandardParquetParser()
        first, rest = parser.feed(table.slice(0, 2)), parser.feed(table.slice(2))  # two batches
        assert first.rejects.num_rows == rest.rejects.num_rows == 0
        rows = pa.concat_tables([first.rows, rest.rows])
        assert rows.column("line_no").to_pylist() == list(range(1, table.num_rows + 1))
        assert rows.drop_columns(["line_no"]).equals(w3c.rows.drop_columns(["line_no"])), name


def with_delimiter(name: str, delimiter: str, header: bool = True) -> tuple[bytes, list[str]]:
    """A fixture as standard logging v2 writes it when told to separate fields with
    `delimiter` (its W3C output, or without directives its plain output); the file's own
    field names."""
    lines = (STD / name).read_text().splitlines()
    names = next((line.split()[1:] for line in lines if line.startswith("#Fields:")), [])
    out = ["#Fields: " + delimiter.join(names) if line.startswith("#Fields:") else line
           for line in lines if header or not line.startswith("#")]
    out = [line if line.startswith("#") else line.replace("\t", delimiter) for line in out]
    return ("\n".join(out) + "\n").encode(), names


def test_v2_text_with_its_own_delimiter_reads_like_the_tab_separated_original():
    """v2's W3C and plain output may use another delimiter than a tab (up to five
    characters). Each fixture with a space, a pipe or a two-character delimiter, in its
    `#Fields:` line too, gives the rows of its tab-separated original; so does the plain
    output (no directives) read with the field list given in the configuration."""
    for name in ("aws-docs-example.log", "aws-samples-2018-26-fields.log", "claygregory-2014-24-fields.log",
                 "datadog-401-double-encoded-ua.log", "davidwells-2025-post.log"):
        tabs = StandardParser().feed((STD / name).read_bytes())
        for delimiter in (" ", "|", "||"):
            text, names = with_delimiter(name, delimiter)
            assert b"\t" not in text
            result = StandardParser(delimiter=delimiter).feed(text)
            assert result.rejects.num_rows == 0 and result.lines == tabs.lines > 0, (name, delimiter)
            assert result.rows.equals(tabs.rows), (name, delimiter)
            if names:
                plain, _ = with_delimiter(name, delimiter, header=False)
                result = StandardParser(delimiter=delimiter, fields=names).feed(plain)
                assert result.rejects.num_rows == 0, (name, delimiter)
                # Two lines shorter (no directives): the same rows, numbered from 1.
                same = result.rows.drop_columns(["line_no"]).equals(tabs.rows.drop_columns(["line_no"]))
                assert same and result.rows.column("line_no").to_pylist() == list(range(1, tabs.lines + 1))
    # Read as tab-separated, every line is refused with a reason that says what to set.
    text, _ = with_delimiter("aws-docs-example.log", "|")
    refused = StandardParser().feed(text)
    assert refused.rows.num_rows == 0 and refused.rejects.num_rows == refused.lines == 6
    (reason,) = set(refused.rejects.column("reason").to_pylist())
    assert reason.startswith("the layout names no field Footfall reads (date|time|x-edge-location|")
    assert reason.endswith("need standard.field_delimiter, and header-less ones standard.fields")
    plain, _ = with_delimiter("aws-docs-example.log", "|", header=False)
    refused = StandardParser().feed(plain)  # no layout to go by: the field count tells
    assert set(refused.rejects.column("reason").to_pylist()) == {"expected 33 fields, got 1"}


def test_a_value_holding_a_v2_delimiter_is_quarantined_not_read_shifted():
    """CloudFront percent-encodes spaces, tabs and `|` in values, but not commas: with `,`
    as the v2 delimiter, each of the AWS example's five browser lines (`(KHTML,%20like%20Gecko)`
    in the user agent) splits into 34 fields where the `#Fields:` line names 33, which
    puts the user agent's tail in the next field and every later field one place off. Those
    lines are quarantined whole, with the reason (before, they were read shifted: here
    refused only by luck, as "cs-bytes is not a number: https"); the curl line reads as its
    tab original."""
    tabs = StandardParser().feed((STD / "aws-docs-example.log").read_bytes())
    text, _ = with_delimiter("aws-docs-example.log", ",")
    result = StandardParser(delimiter=",").feed(text)
    assert result.lines == 6 and result.rows.num_rows == 1 and result.extra_columns == 0
    assert result.rows.column("line_no").to_pylist() == [8]
    assert result.rows.drop_columns(["line_no"]).equals(tabs.rows.slice(5).drop_columns(["line_no"]))
    assert result.rejects.column("line_no").to_pylist() == [3, 4, 5, 6, 7]
    assert set(result.rejects.column("reason").to_pylist()) == {
        "expected 33 fields, got 34: a value holds the field delimiter ',', "
        "or the layout lists too few fields"}
    originals = text.decode().splitlines()
    assert [r.decode() for r in result.rejects.column("raw").to_pylist()] == originals[2:7]
