"""End-to-end benchmark (`make bench`): 1M standard-log lines → the daily report, against
GoAccess (`goaccess --log-format=CLOUDFRONT -o report.html`) on the same file, in one run.

Both read the same uncompressed W3C file. Footfall's path: ingest (parse, pseudonymise,
partition) → every gold model for the day → the daily report (HTML + Markdown + CSV),
with latency percentiles GoAccess does not compute. Usage: python bench/report_bench.py [--lines N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench" / "standard"
DAY = date(2026, 11, 2)


def dataset(lines: int) -> Path:
    """One uncompressed standard log file with at least `lines` lines (generated once, cached)."""
    target = CACHE / f"standard-{lines}.log"
    if target.exists():
        return target
    from pipelines.generate import GenerateOptions, generate
    from pipelines.storage import Storage

    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        visitors = 40_000
        while True:
            shutil.rmtree(work / "lake", ignore_errors=True)
            generate(Storage(str(work / "lake")), GenerateOptions(start=DAY, days=1, visitors=visitors, bots=40,
                                                                  rtl=False, standard=True, beacon=False, seed=1))
            body = []
            for p in sorted((work / "lake/landing/standard").rglob("*")):
                if p.is_file():
                    data = gzip.decompress(p.read_bytes()) if p.read_bytes()[:2] == b"\x1f\x8b" else p.read_bytes()
                    body += [ln for ln in data.split(b"\n") if ln and not ln.startswith(b"#")]
            header = [ln for ln in data.split(b"\n") if ln.startswith(b"#")]
            if len(body) >= lines:
                break
            visitors = int(visitors * lines / max(len(body), 1) * 1.05)
        body = sorted(body[:lines], key=lambda ln: ln[:19])  # one day's log, in time order
        target.write_bytes(b"\n".join(header + body) + b"\n")
    finally:  # an interrupted run leaves no half-generated lake behind
        shutil.rmtree(work, ignore_errors=True)
    return target


PATH = """
import json, sys, time
started = time.perf_counter()
from datetime import date
from pipelines.config import load_settings
from pipelines.ingest import ingest
from pipelines.models import Window, build
from pipelines.report import write_report
t = {"imports": time.perf_counter() - started}
settings = load_settings(lake=sys.argv[1])
day = date.fromisoformat(sys.argv[2])
a = time.perf_counter(); ingest(settings, b"bench-key-0123456789abcdef", sources=("standard",))
b = time.perf_counter(); build(settings, Window(day, day))
c = time.perf_counter(); write_report(settings, day)
d = time.perf_counter()
t.update(ingest=b - a, gold=c - b, report=d - c)
print(json.dumps(t))
"""


def footfall(log: Path, work: Path) -> tuple[float, dict[str, float]]:
    """The whole path in one process, as one Dagster run or `footfall demo` does it; the
    wall time includes the interpreter's start and every import."""
    lake = work / "lake"
    (lake / "landing/standard").mkdir(parents=True)
    shutil.copy(log, lake / f"landing/standard/EBENCH.{DAY}-00.bench.log")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PATH, str(lake), DAY.isoformat()],
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    html = (lake / f"reports/dt={DAY}/daily_report.html").read_text()
    assert "Slowest paths" in html and "p95" in html
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def goaccess(log: Path, work: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["goaccess", str(log), "--log-format=CLOUDFRONT", "-o", str(work / "goaccess.html"),
                    "--no-progress"], capture_output=True, check=True)
    seconds = time.perf_counter() - start
    assert (work / "goaccess.html").stat().st_size > 10_000
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    args = ap.parse_args()
    if not shutil.which("goaccess"):
        raise SystemExit("goaccess is not installed (make bench installs Debian's goaccess)")
    log = dataset(args.lines)
    lines = sum(1 for ln in log.open("rb") if not ln.startswith(b"#"))
    work = Path(tempfile.mkdtemp(prefix="footfall-report-bench-"))
    try:
        total, ff = footfall(log, work)
        ga_seconds = goaccess(log, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{lines:,} standard-log lines ({log.stat().st_size / 2**20:,.0f} MiB), one UTC day")
    print(f"  Footfall  {total:.1f}s wall, one process ({lines / total:,.0f} lines/s end to end): "
          f"start-up and imports {ff['imports']:.1f}s, ingest {ff['ingest']:.1f}s, "
          f"gold (all {len(__import__('pipelines.models').models.MARTS)} models) {ff['gold']:.1f}s, "
          f"report {ff['report']:.1f}s")
    print(f"  GoAccess  {ga_seconds:.1f}s  ({lines / ga_seconds:,.0f} lines/s)")
    print(f"  Footfall / GoAccess: {ga_seconds / total:.2f}x  (target ≥ 3x)")


if __name__ == "__main__":
    main()
