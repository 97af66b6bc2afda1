"""Property tests: arbitrary and corrupted input never crashes a run, and every line is
accounted for: lines = rows + duplicates + quarantined, per object."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import ledger
from pipelines.config import Ingest, Lake, Settings
from pipelines.ingest import ingest
from pipelines.storage import Storage
from rtl_parser.decode import decode_form, decode_once, decode_twice, percent_decode
from rtl_parser.normalise import referrer_columns
from rtl_parser.realtime import RealtimeParser
from rtl_parser.standard import StandardJsonParser, StandardParquetParser, StandardParser
from tests.conftest import FIXTURES, KEY, examples

REAL_LINES = [ln for p in sorted((FIXTURES / "realtime").glob("datadog*")) + [FIXTURES / "realtime/claygregory-kinesis-1-0.tsv"]
              for ln in p.read_bytes().splitlines() if ln]
STD_LINES = [ln for ln in (FIXTURES / "standard/aws-docs-example.log").read_bytes().splitlines()
             if ln and not ln.startswith(b"#")]


@st.composite
def mangled(draw, pool):
    """A real line, damaged in one of the ways real pipelines see, or pure noise."""
    base = draw(st.sampled_from(pool))
    kind = draw(st.sampled_from(["keep", "cut", "flip", "tabs", "noise", "insert"]))
    if kind == "cut":
        return base[: draw(st.integers(0, len(base)))]
    if kind == "flip":
        i = draw(st.integers(0, len(base) - 1))
        return base[:i] + bytes([draw(st.integers(0, 255))]) + base[i + 1:]
    if kind == "tabs":
        return base.replace(b"\t", draw(st.sampled_from([b"", b"\t\t", b" "])), draw(st.integers(1, 5)))
    if kind == "noise":
        return draw(st.binary(max_size=300))
    if kind == "insert":
        i = draw(st.integers(0, len(base)))
        return base[:i] + draw(st.binary(max_size=20)) + base[i:]
    return base


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def nonblank(data: bytes) -> int:
    return sum(1 for ln in data.split(b"\n") if ln.rstrip(b"\r"))


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(mangled(REAL_LINES), max_size=12))
def test_realtime_parser_accounts_for_every_line(lines):
    from rtl_parser.fields import REALTIME_FIELDS_2020

    data = b"\n".join(lines)
    result = RealtimeParser(REALTIME_FIELDS_2020).feed(data)
    assert result.lines == nonblank(data)
    assert result.lines == result.rows.num_rows + result.rejects.num_rows
    assert all(r["reason"] for r in result.rejects.to_pylist())


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(mangled(STD_LINES), max_size=10), st.booleans())
def test_standard_parser_accounts_for_every_line(lines, with_header):
    header = (FIXTURES / "standard/aws-docs-example.log").read_bytes().split(b"\n")[:2]
    data = b"\n".join((header if with_header else []) + lines)
    result = StandardParser().feed(data)
    # A directive is a valid line starting with "#"; an undecodable one is quarantined.
    directives = sum(1 for ln in data.split(b"\n") if ln.startswith(b"#") and _utf8(ln))
    assert result.lines == nonblank(data) - directives
    assert result.lines == result.rows.num_rows + result.rejects.num_rows


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), st.just(b'{"c-ip": "1.2.3.4"}'),
                          st.just(b'{"timestamp(ms)": "1700000000000", "x-edge-request-id": "a"}')),
                max_size=8))
def test_json_parser_accounts_for_every_line(lines):
    data = b"\n".join(lines)
    result = StandardJsonParser().feed(data)
    assert result.lines == nonblank(data) == result.rows.num_rows + result.rejects.num_rows


@st.composite
def landing_object(draw):
    body = b"\n".join(draw(st.lists(mangled(REAL_LINES), min_size=0, max_size=8))) + b"\n"
    # Several lines share a request id on purpose: duplicates within and across objects.
    if draw(st.booleans()):
        body = gzip.compress(body)
        damage = draw(st.sampled_from(["none", "cut", "bytes"]))
        if damage == "cut":
            body = body[: draw(st.integers(2, max(2, len(body) - 1)))]
        elif damage == "bytes":  # overwritten anywhere, the gzip header included
            at = draw(st.integers(0, len(body) - 1))
            junk = draw(st.binary(min_size=1, max_size=16))
            body = body[:at] + junk + body[at + len(junk):]
    return body


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(landing_object(), min_size=1, max_size=5))
def test_ingest_reconciles_every_object(objects):
    from pipelines.config import Rtl
    from rtl_parser.fields import REALTIME_FIELDS_2020

    root = Path(tempfile.mkdtemp())
    try:
        folder = root / "landing/rtl/2020/09/16/23"
        folder.mkdir(parents=True)
        for i, body in enumerate(objects):
            (folder / f"obj-{i}").write_bytes(body)
        cfg = Settings(lake=Lake(root=str(root)), rtl=Rtl(fields=REALTIME_FIELDS_2020),
                       ingest=Ingest(workers=1))
        summary = ingest(cfg, KEY)
        entries = ledger.load(Storage(str(root)))
        assert len(entries) == len(objects)
        assert all(e.reconciles for e in entries.values()), [e for e in entries.values() if not e.reconciles]
        assert summary.lines == summary.rows + summary.duplicates + summary.quarantined
    finally:
        shutil.rmtree(root)


def _urlsplit_parts(value: str) -> tuple[str | None, str | None]:
    """The referrer columns by their definition: `urlsplit`'s host without `www.`, and its
    path (`/` when empty); a scheme-less value is read as a host first."""
    try:
        parts = urlsplit(value if "://" in value else "//" + value)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None, None
    return (host, parts.path or "/") if host else (None, None)


URL_PIECES = st.sampled_from([
    "http", "HTTPS", "android-app", "1x", "a b", ":", "://", "//", "/", "?", "#", "@", "[", "]",
    "[::1]", "[v1.x]", "[1.2.3.4]", "%", "%41", "www.", "WWW.", "Example.COM", "x.org", ":8080",
    "user:pw@", "é", " ", "\t", "-", "a/b", "?q=http://b.com", "#f/x", ".", "café", "Ⅸ",
])


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.lists(URL_PIECES, max_size=8).map("".join) | st.text(max_size=30), max_size=40))
def test_referrer_columns_read_urls_as_urlsplit_does(values):
    series = pl.Series("r", [*values, None], dtype=pl.String)
    got = referrer_columns(series)
    expected = [_urlsplit_parts(v) for v in values] + [(None, None)]
    assert list(zip(got["referrer_domain"], got["referrer_path"], strict=True)) == expected


ESCAPED_PIECES = st.sampled_from([
    "%", "%4", "%41", "%2f", "%2F", "%20", "%25", "%2541", "%C3%A9", "%C3", "%A9", "%E6%97%A5",
    "%E6%97", "%F0%9F%98%80", "%FF", "%zz", "+", "a", "Z", "/", "?", "&", "=", "é", "日", "😀", " ",
])


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.lists(ESCAPED_PIECES, max_size=10).map("".join) | st.text(max_size=20), max_size=30))
def test_percent_decoding_in_bulk_equals_unquote(values):
    def twice(v: str) -> str:
        once = unquote(v, errors="replace")
        return unquote(once, errors="replace") if re.search("%[0-9A-Fa-f]{2}", once) else once

    series = pl.Series("v", [*values, None], dtype=pl.String)
    for fn, expected in ((decode_once, lambda v: unquote(v, errors="replace")), (decode_twice, twice),
                         (decode_form, lambda v: unquote(v.replace("+", " "), errors="replace"))):
        assert percent_decode(series, fn).to_list() == [*map(expected, values), None]


STD_VALUES = sorted({v for ln in STD_LINES for v in ln.decode().split("\t")})
V2_COLUMNS = ["timestamp_ms", "timestamp(ms)", "date", "time", "c_ip", "sc_status", "sc-bytes",
              "cs_uri_stem", "x_edge_request_id", "cs_user_agent", "time_taken", "cs_referer", "other"]


@st.composite
def v2_table(draw):
    """A Parquet batch as standard logging v2 might give it: real values, text, numbers,
    nulls, in any of the fields' spellings."""
    n = draw(st.integers(0, 6))
    columns = {}
    for name in draw(st.lists(st.sampled_from(V2_COLUMNS), unique=True, max_size=8)):
        kind = draw(st.sampled_from(["text", "int", "float", "bytes", "list"]))
        values = {"text": st.none() | st.text(max_size=20) | st.sampled_from(STD_VALUES),
                  "int": st.none() | st.integers(-(2**63), 2**63 - 1),
                  "float": st.none() | st.floats(allow_nan=True, allow_infinity=True),
                  "bytes": st.none() | st.binary(max_size=20),
                  "list": st.none() | st.lists(st.text(max_size=5), max_size=3)}[kind]
        columns[name] = pa.array(draw(st.lists(values, min_size=n, max_size=n)),
                                 {"text": pa.string(), "int": pa.int64(), "float": pa.float64(),
                                  "bytes": pa.binary(), "list": pa.list_(pa.string())}[kind])
    return pa.table(columns) if columns else pa.table({"other": pa.array([None] * n, pa.string())})


@settings(max_examples=examples(150), deadline=None)
@given(v2_table())
def test_parquet_parser_accounts_for_every_row(table):
    result = StandardParquetParser().feed(table)
    assert result.lines == table.num_rows == result.rows.num_rows + result.rejects.num_rows


def _v2_parquet() -> bytes:
    from tests.test_fixtures_standard import as_v2_parquet

    sink = io.BytesIO()
    pq.write_table(as_v2_parquet("aws-docs-example.log"), sink, row_group_size=2, compression="snappy")
    return sink.getvalue()


V2_PARQUET = _v2_parquet()


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(V2_PARQUET) - 1), st.integers(1, 64), st.binary(min_size=1, max_size=64),
       st.booleans())
def test_a_damaged_parquet_object_reconciles(at, length, junk, truncate):
    """Bytes overwritten or the file cut short anywhere: rows kept, the rest quarantined."""
    body = V2_PARQUET[:at] if truncate else V2_PARQUET[:at] + junk[:length] + V2_PARQUET[at + length:]
    root = Path(tempfile.mkdtemp())
    try:
        folder = root / "landing/standard/year=2019/month=12/day=04/hour=21"
        folder.mkdir(parents=True)
        (folder / "E1.parquet").write_bytes(body)
        summary = ingest(Settings(lake=Lake(root=str(root)), ingest=Ingest(workers=1)), KEY)
        [entry] = ledger.load(Storage(str(root))).values()
        assert entry.reconciles and summary.lines == summary.rows + summary.duplicates + summary.quarantined
    finally:
        shutil.rmtree(root)
