"""Collector load run (`make bench`): beacon batches of 20 events from concurrent keep-alive
clients against `footfall collect` on loopback for a fixed number of batches; then the
collector is stopped (it flushes), the landing zone ingested, and every accepted event must
be in silver. Prints events/s accepted and lost events (target: 0).

Usage: python bench/collector_bench.py [--batches N] [--clients C]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

SITE = "www.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def body(n: int) -> bytes:
    now = int(time.time() * 1000)
    return json.dumps({"site": SITE, "visitor": str(uuid.uuid4()), "events": [
        {"event_id": str(uuid.uuid4()), "type": "heartbeat" if i else "page_view", "client_ts": now,
         "seq": i + 1, "path": "/pricing", "title": "Pricing", "props": {"i": i}} for i in range(n)]}).encode()


def run(lake: Path, batches: int, clients: int, per_batch: int = 20) -> dict:
    port = free_port()
    # One loopback client IP sends everything: the per-client rate limit is off for the run.
    env = {**os.environ, "FOOTFALL_COLLECTOR_SITES": SITE, "FOOTFALL_LAKE_ROOT": str(lake),
           "FOOTFALL_COLLECTOR_RATE_PER_MINUTE": "0"}
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "collect", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    payloads = [body(per_batch) for _ in range(batches)]  # built before the clock starts
    accepted, refused = [0] * clients, [0] * clients

    def client(k: int) -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for p in payloads[k::clients]:
            con.request("POST", "/_footfall/events", p, {"content-type": "application/json",
                                                           "origin": f"https://{SITE}", "user-agent": "bench"})
            answer = con.getresponse()
            answer.read()
            if answer.status == 202:
                accepted[k] += per_batch
            else:
                refused[k] += 1
        con.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    server.send_signal(signal.SIGTERM)  # graceful: the lifespan shutdown flushes the buffer
    server.wait(timeout=60)

    from pipelines.config import Lake, Settings
    from pipelines.ingest import ingest

    summary = ingest(Settings(lake=Lake(root=str(lake))), b"bench-key-0123456789abcdef", sources=("beacon",))
    return {"events": sum(accepted), "refused_batches": sum(refused), "seconds": seconds,
            "in_silver": summary.rows, "quarantined": summary.quarantined}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="footfall-collector-bench-") as tmp:
        r = run(Path(tmp) / "lake", args.batches, args.clients)
    lost = r["events"] - r["in_silver"]
    print(f"\ncollector (ASGI on uvicorn, one worker) on loopback, {args.clients} keep-alive clients, "
          f"{args.batches:,} batches of 20 events")
    print(f"  accepted {r['events']:,} events in {r['seconds']:.1f}s = {r['events'] / r['seconds']:,.0f} events/s "
          f"({args.batches / r['seconds']:,.0f} batches/s); refused batches {r['refused_batches']}")
    print(f"  in silver after ingest: {r['in_silver']:,}; lost: {lost} (target 0)")


if __name__ == "__main__":
    main()
