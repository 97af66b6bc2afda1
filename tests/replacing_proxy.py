"""An HTTP proxy in front of the S3-API server that replaces an object the moment a reader
first asks it for a byte range: what an ingest replacing that hour partition does between
Arrow's asking for the size and its reads of ranges, without the luck of timing.

`python -m tests.replacing_proxy UPSTREAM DIR PORT`: a file in DIR named by the object's
path quoted (`bucket/key`, `/` as `%2F`) holds its other version; the first ranged GET of
that path PUTs it upstream, removes the file, then is answered. A file named so with
`.cut` added cuts the next GET of that path instead: its full length is announced, half
the body sent and the connection dropped (a network failure mid-object). A process of its
own, so that no reader in the test process waits on Python's lock for it.

`GET /_proxy/connections` answers how many connections clients have opened to it so far.
"""

from __future__ import annotations

import http.client
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

HOP = {"host", "connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


def main(upstream: str, versions: Path, port: int) -> None:
    target = urllib.parse.urlsplit(upstream)
    s3 = boto3.client("s3", endpoint_url=upstream)  # signed: the server refuses anonymous writes
    connections, counting = [0], threading.Lock()  # one handler a connection

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            with counting:
                connections[0] += 1
            super().setup()

        def log_message(self, *args) -> None:
            pass

        def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                return answer.status, answer.getheaders(), answer.read()
            finally:
                conn.close()

        def _chunked(self) -> bytes:
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)

        def _any(self) -> None:
            if self.path == "/_proxy/connections":
                count = str(connections[0]).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(count)))
                self.end_headers()
                self.wfile.write(count)
                return
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                body = self._chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
            other = versions / urllib.parse.quote(name, safe="")
            if self.command == "GET" and "Range" in self.headers and other.exists():
                data = other.read_bytes()
                other.unlink()
                bucket, _, key = name.partition("/")
                s3.put_object(Bucket=bucket, Key=key, Body=data)
            status, answer_headers, data = self._send(self.command, self.path, headers, body)
            cut = versions / (urllib.parse.quote(name, safe="") + ".cut")
            self.send_response(status)
            for key, value in answer_headers:
                if key.lower() not in HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            if self.command == "GET" and cut.exists():
                cut.unlink()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(data)) if self.command != "HEAD" else
                             dict((k.lower(), v) for k, v in answer_headers).get("content-length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

    ThreadingHTTPServer(("127.0.0.1", port), Forward).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
