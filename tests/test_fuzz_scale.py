"""Hostile input at scale: 100,000 hostile lines and 1,000 corrupt, truncated or explosive
objects through ingest — no crash, every line accounted for per object — and the hostile
strings that parse go on through gold, the report and CSV without executing anywhere."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, date, datetime

import duckdb
import pytest
from isal import igzip

from pipelines import ledger
from pipelines.config import Ingest, Lake, Settings
from pipelines.generate import GenerateOptions, generate
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import Window, build
from pipelines.report import write_report
from pipelines.storage import Storage
from tests.conftest import KEY

DAY = date(2026, 11, 2)
HOSTILE = ["<script>alert(1)</script>", "'; drop table requests; --", "=HYPERLINK(\"http://x\",\"y\")",
           "+cmd|' /C calc'!A0", "@SUM(1+1)", "\x1b[31mred\x1b[0m", "%00%0A%0D", "\u202egnp.exe",
           "${jndi:ldap://x/a}", "{{7*7}}", "../../etc/passwd", "\x00nul", "ünïcødé", "\t\t\t"]
CAP = 16 * 1024 * 1024


def hostile_line(rng: random.Random, template: list[bytes]) -> bytes:
    kind = rng.random()
    if kind < 0.5:  # a well-formed record carrying hostile values
        fields = list(template)
        for i in rng.sample(range(len(fields)), 4):
            if i in (0, 12):  # keep time and request id well-formed but unique
                continue
            fields[i] = rng.choice(HOSTILE).replace("\t", " ").encode()
        fields[12] = f"FUZZ{rng.getrandbits(64):016x}".encode()
        return b"\t".join(fields)
    if kind < 0.7:  # random bytes: invalid UTF-8, control characters
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))).replace(b"\n", b" ")
    if kind < 0.85:  # wrong column count
        return b"\t".join(template[: rng.randint(1, len(template) + 5)] + [b"x"] * rng.randint(0, 5))
    if kind < 0.99:  # hostile JSON (for the beacon's parser as much as for the others)
        return (b'{"v":1,"event_id":"' + rng.choice(HOSTILE).encode("utf-8", "replace")
                + b'","type":"click","received_ts":' + str(rng.randint(-5, 10**13)).encode() + b"}")
    return b"A" * 70_000  # longer than the line cap


def corrupt_object(rng: random.Random, good: bytes) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return igzip.compress(good)[: rng.randint(10, 200)]  # truncated gzip
    if kind == 1:
        return b"\x1f\x8b" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))  # fake gzip
    if kind == 2:
        return b""  # empty object
    if kind == 3:
        return gzip.compress(b"")  # empty gzip
    if kind == 4:
        return igzip.compress(good) + b"trailing garbage"
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 500)))  # binary noise


@pytest.mark.slow
def test_hostile_lines_and_corrupt_objects_at_scale(tmp_path):
    root = tmp_path / "lake"
    storage = Storage(str(root))
    generate(storage, GenerateOptions(start=DAY, days=1, visitors=200, bots=2, seed=4, standard=False))
    template = gzip.decompress(next((root / "landing/rtl").rglob("*.gz")).read_bytes()).split(b"\n")[0].split(b"\t")
    good = b"\n".join(gzip.decompress(p.read_bytes()) for p in list((root / "landing/rtl").rglob("*.gz"))[:3])
    rng = random.Random(2026)
    expected_lines: dict[str, int] = {}
    for i in range(100):  # 100,000 hostile lines in 100 objects, across the three sources
        lines = [hostile_line(rng, template) for _ in range(1000)]
        source = ("rtl", "beacon", "standard")[i % 3]
        key = (f"landing/standard/EFUZZ.2026-11-02-{i % 24:02d}.{i:04x}.gz" if source == "standard"
               else f"landing/{source}/2026/11/02/{i % 24:02d}/fuzz-{i:04d}.gz")
        storage.write_bytes(key, igzip.compress(b"\n".join(lines) + b"\n"))
        expected_lines[key] = sum(1 for ln in lines if ln.strip(b" \r"))
    for i in range(1000):  # 1,000 corrupt, truncated, empty or noisy objects
        source = ("rtl", "beacon", "standard")[i % 3]
        key = (f"landing/standard/EBAD.2026-11-02-{i % 24:02d}.{i:04x}.gz" if source == "standard"
               else f"landing/{source}/2026/11/02/{i % 24:02d}/bad-{i:04d}.gz")
        storage.write_bytes(key, corrupt_object(rng, good))
    bombs = [f"landing/rtl/2026/11/02/12/bomb-{i}.gz" for i in range(3)]
    for key in bombs:  # 200 MB of lines behind 200 KB of gzip
        storage.write_bytes(key, igzip.compress(b"x\tx\n" * (50 * 1024 * 1024), compresslevel=3))

    settings = Settings(lake=Lake(root=str(root)), ingest=Ingest(max_object_bytes=CAP))
    summary = ingest(settings, KEY, sources=ALL_SOURCES)  # must not raise
    entries = ledger.load(storage)
    assert len(entries) == summary.objects >= 1100 + 3
    assert all(e.reconciles for e in entries.values())
    for key, n in expected_lines.items():  # lines counted here, independently of the parser
        assert entries[key].lines == n, key
    assert sum(entries[k].lines for k in expected_lines) >= 99_000
    for key in bombs:
        assert entries[key].error == f"decompressed size exceeds {CAP} bytes"
    broken = [e for k, e in entries.items() if "/bad-" in k or "EBAD" in k]
    assert sum(1 for e in broken if e.error) > 300  # the unreadable ones say why

    # Hostile values that parsed reach gold and the report as text, never markup.
    build(settings, Window(DAY, DAY))
    written = write_report(settings, DAY)
    html = storage.read_bytes(written.keys[0]).decode()
    assert "<script>alert(1)</script>" not in html
    hostile_paths = duckdb.sql(f"select count(*) from read_parquet('{root}/silver/requests/*/*/*.parquet') "
                               "where path like '%<script>%' or query like '=%'").fetchall()[0][0]
    assert hostile_paths > 0
    csv_text = b"".join(storage.read_bytes(k) for k in written.keys if k.endswith(".csv")).decode()
    assert not any(line.split(",")[1:2] and line.split(",")[1].startswith(("=", "+", "@"))
                   for line in csv_text.splitlines())
    assert datetime.now(UTC)  # the run finished
