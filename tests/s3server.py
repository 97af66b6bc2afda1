"""A real S3-API server process for tests: moto in server mode on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serving(args: list[str], what: str, **popen):
    """A server process (`python -m` args, then its port); yields its URL once it answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", *args, str(port)], **popen)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{what} exited during start-up") from None
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{what} did not start within 10 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def moto_server(log: Path | None = None):
    """Start `moto_server`; yields its endpoint URL and stops it afterwards. `log`: a file
    for its access log, one line per request served (`"GET /bucket?list-type=2&… HTTP/1.1"`)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        with _serving(["moto.server", "-H", "127.0.0.1", "-p"], "moto server", stdout=out, stderr=out) as url:
            yield url
    finally:
        if log:
            out.close()


AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def aws_env(url: str) -> dict[str, str]:
    return {**AWS_ENV, "AWS_ENDPOINT_URL": url}


def apply_env(monkeypatch, url: str) -> None:
    for k, v in aws_env(url).items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@contextmanager
def replacing_proxy(upstream: str, versions: Path):
    """`tests/replacing_proxy.py` in front of `upstream`, replacing the objects whose other
    versions are in `versions` at their first ranged GET; yields its URL."""
    with _serving(["tests.replacing_proxy", upstream, str(versions)], "the replacing proxy",
                  cwd=Path(__file__).resolve().parents[1]) as url:
        yield url
