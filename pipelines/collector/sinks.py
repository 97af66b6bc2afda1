"""Where accepted records go: Firehose (`put_record_batch`, failed records retried) or, on
the embedded default, the local landing zone in Firehose's object layout."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from isal import igzip

from pipelines.storage import Storage

PREFIX = "landing/beacon"


class LandingSink:
    """Buffers records and writes them as gzip objects under landing/beacon/YYYY/MM/DD/HH/,
    named like Firehose's, rotated by size and age. Each object is written atomically."""

    def __init__(self, storage: Storage, rotate_bytes: int = 1 << 20, rotate_seconds: int = 60,
                 stream: str = "footfall-beacon"):
        self.storage, self.rotate_bytes, self.rotate_seconds = storage, rotate_bytes, rotate_seconds
        self.stream = stream
        self.lock = threading.Lock()
        self.buffer: list[bytes] = []
        self.size = 0
        self.opened = time.monotonic()
        self.objects = 0

    def put(self, records: list[bytes]) -> None:
        with self.lock:
            self.buffer.extend(records)
            self.size += sum(len(r) + 1 for r in records)
            if self.size >= self.rotate_bytes or time.monotonic() - self.opened >= self.rotate_seconds:
                self._flush()

    def flush(self) -> None:
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        if self.buffer:
            now = datetime.now(UTC)
            key = (f"{PREFIX}/{now:%Y/%m/%d/%H}/{self.stream}-1-{now:%Y-%m-%d-%H-%M-%S}-"
                   f"{uuid.uuid4()}.gz")
            data = b"\n".join(self.buffer) + b"\n"
            self.storage.write_bytes(key, igzip.compress(data, compresslevel=1))
            self.objects += 1
        self.buffer, self.size, self.opened = [], 0, time.monotonic()


class FirehoseSink:
    """Sends each batch with `put_record_batch`; records Firehose reports as failed are sent
    again with backoff. A batch that still fails raises, and the collector answers 503: the
    browser retries, and ingest de-duplicates on event_id."""

    def __init__(self, stream: str, client=None, attempts: int = 4, backoff_s: float = 0.05):
        import boto3

        self.stream, self.attempts, self.backoff_s = stream, attempts, backoff_s
        self.client = client or boto3.client("firehose")

    def put(self, records: list[bytes]) -> None:
        pending = [r + b"\n" for r in records]  # newline-delimited in the delivered objects
        for attempt in range(self.attempts):
            answer = self.client.put_record_batch(DeliveryStreamName=self.stream,
                                                  Records=[{"Data": r} for r in pending])
            if not answer.get("FailedPutCount"):
                return
            pending = [r for r, res in zip(pending, answer["RequestResponses"], strict=True)
                       if res.get("ErrorCode")]
            time.sleep(self.backoff_s * 2 ** attempt)
        raise RuntimeError(f"Firehose refused {len(pending)} record(s) after {self.attempts} attempts")

    def flush(self) -> None:
        """Firehose buffers on its side; nothing to do."""
