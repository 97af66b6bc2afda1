"""Parse cost when URLs vary the way real traffic's do (`make bench`).

The generated traffic repeats a few dozen URLs, so decoding each distinct value once makes
its decoding nearly free. Real sites are not so tidy: search terms, click ids and cache
busters make query strings unique per request, and every request's referrer is the full
URL of the page that linked it. This parses one 32 MiB chunk of the benchmark's lines as
generated, and again with those fields made unique per request, and prints the parser's
time per line for each (best of five, so the figures compare code, not the machine's mood).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest_bench import dataset  # noqa: E402

from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, realtime_positions  # noqa: E402
from rtl_parser.lines import split_lines  # noqa: E402
from rtl_parser.realtime import RealtimeParser  # noqa: E402

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


def parse_seconds(chunk: bytes) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        RealtimeParser().parse_lines(split_lines(chunk))
        best = min(best, time.perf_counter() - start)
    return best


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
