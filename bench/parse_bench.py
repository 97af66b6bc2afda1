"""Parse cost on input the ingest benchmark's lines do not cover (`make bench`).

1. URLs that vary the way real traffic's do. The generated traffic repeats a few dozen
   URLs, so decoding each distinct value once makes its decoding nearly free. Real sites
   are not so tidy: search terms, click ids and cache busters make query strings unique per
   request, and every request's referrer is the full URL of the page that linked it. One
   32 MiB chunk of the benchmark's real-time lines is parsed as generated, and again with
   those fields made unique per request.
2. Standard logging v2 delivered as JSON lines and as Parquet (read from the file, all of
   it), against the same records as W3C lines.

Each figure is the parser's best of five runs, so the figures compare code, not the
machine's mood.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import polars as pl
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import report_bench  # noqa: E402
from ingest_bench import dataset  # noqa: E402

from pipelines.landing import parquet_batches  # noqa: E402
from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, realtime_positions  # noqa: E402
from rtl_parser.lines import split_lines  # noqa: E402
from rtl_parser.realtime import RealtimeParser  # noqa: E402
from rtl_parser.standard import StandardJsonParser, StandardParquetParser, StandardParser  # noqa: E402

CHUNK = 32 << 20


def first_chunk(lake: Path) -> bytes:
    data = bytearray()
    for path in sorted((lake / "landing").rglob("*.gz")):
        data += igzip.decompress(path.read_bytes())
        if len(data) >= CHUNK:
            break
    lines = bytes(data[: data.rfind(b"\n", 0, CHUNK)]).split(b"\n")
    # Only well-formed lines, so every variant parses the same rows (the generated ones
    # include malformed lines on purpose, and those could not be rewritten as text).
    fields = len(realtime_positions(DEFAULT_REALTIME_FIELDS))
    return b"".join(ln + b"\n" for ln in lines if ln.count(b"\t") == fields - 1 and ln.isascii())


def with_fields(chunk: bytes, **columns: pl.Expr) -> bytes:
    """The chunk's lines with some fields replaced (by the log's own field names)."""
    names = realtime_positions(DEFAULT_REALTIME_FIELDS)
    rows = pl.Series(chunk.decode().splitlines()).str.split("\t").list.to_struct(fields=names).struct.unnest()
    n = pl.int_range(pl.len()).cast(pl.String)
    rows = rows.with_columns(**{k: v(n) for k, v in columns.items()})
    return ("\n".join(rows.select(pl.concat_str(names, separator="\t")).to_series()) + "\n").encode()


def best_seconds(parse, data: bytes) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        parse(data)
        best = min(best, time.perf_counter() - start)
    return best


def parse_seconds(chunk: bytes) -> float:
    return best_seconds(lambda data: RealtimeParser().parse_lines(split_lines(data)), chunk)


def standard_formats(log: Path) -> tuple[dict[str, bytes], int]:
    """The well-formed records of a standard log's first 40 MiB, as W3C lines, v2 JSON lines
    and v2 Parquet (text columns named as Athena's documented table for them names them)."""
    with log.open("rb") as f:
        head = f.read(40 << 20)
    lines = head[: head.rfind(b"\n")].split(b"\n")
    fields = next(ln for ln in lines if ln.startswith(b"#Fields:")).decode().split()[1:]
    body = [ln for ln in lines if not ln.startswith(b"#") and ln.isascii()
            and ln.count(b"\t") == len(fields) - 1]
    w3c = b"#Version: 1.0\n#Fields: " + " ".join(fields).encode() + b"\n" + b"\n".join(body) + b"\n"
    rows = pl.Series([ln.decode() for ln in body]).str.split("\t").list.to_struct(fields=fields).struct.unnest()
    json_lines = rows.select(pl.struct(pl.all()).struct.json_encode()).to_series()
    parquet = io.BytesIO()
    rows.rename(lambda f: f.lower().replace("(", "_").replace(")", "").replace("-", "_")).write_parquet(parquet)
    return {"W3C lines": w3c, "v2 JSON lines": ("\n".join(json_lines) + "\n").encode(),
            "v2 Parquet": parquet.getvalue()}, len(body)


def parse_parquet(data: bytes) -> None:
    parser = StandardParquetParser()
    for batch in parquet_batches(io.BytesIO(data)):
        parser.feed(batch)


def main() -> int:
    chunk = first_chunk(dataset(2_000_000))
    lines = chunk.count(b"\n")
    path = pl.col("cs-uri-stem").str.split("?").list.first()
    # The log writes a client's `%` as `%25`: the client sent `q=caf%C3%A9+<n>`.
    query = lambda n: pl.lit("q=caf%25C3%25A9+") + n  # noqa: E731
    variants = {
        "as generated": {},
        "unique query strings": {"cs-uri-query": query, "cs-uri-stem": lambda n: path + "?" + query(n)},
        "unique referrers": {"cs-referer": lambda n: pl.lit("https://www.example.org/search?q=") + n},
        "both": {"cs-uri-query": query, "cs-uri-stem": lambda n: path + "?" + query(n),
                 "cs-referer": lambda n: pl.lit("https://www.example.org/search?q=") + n},
    }
    print(f"\nparsing one chunk of {lines:,} real-time log lines ({len(chunk) / 2**20:.0f} MiB), best of 5:")
    base = None
    for label, columns in variants.items():
        seconds = parse_seconds(with_fields(chunk, **columns) if columns else chunk)
        base = base or seconds
        print(f"  {label:22s}{seconds * 1e6 / lines:>6.2f} us/line  ({seconds / base:.2f}x)")

    formats, records = standard_formats(report_bench.dataset(1_000_000))
    parsers = {"W3C lines": lambda d: StandardParser().feed(d),
               "v2 JSON lines": lambda d: StandardJsonParser().feed(d), "v2 Parquet": parse_parquet}
    print(f"\nparsing {records:,} standard-log records, best of 5:")
    for label, data in formats.items():
        seconds = best_seconds(parsers[label], data)
        print(f"  {label:22s}{records / seconds:>10,.0f} lines/s  ({len(data) / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
