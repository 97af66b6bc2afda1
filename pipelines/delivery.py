"""Optional delivery of the daily report (`[report]` in footfall.toml): a copy under an S3
prefix, and an e-mail through Amazon SES with the Markdown summary as text and the HTML page
as the body. Credentials come from the usual AWS chain; AWS_ENDPOINT_URL redirects both."""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

from pipelines.config import Settings
from pipelines.report import WrittenReport
from pipelines.storage import Storage


@dataclass
class Delivery:
    s3_keys: list[str] = field(default_factory=list)
    email_message_id: str | None = None


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"report.deliver_s3 must look like s3://bucket/prefix, got {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


def deliver(settings: Settings, written: WrittenReport) -> Delivery:
    cfg = settings.report
    out = Delivery()
    if not cfg.deliver_s3 and not cfg.email_to:
        return out
    storage = Storage(settings.lake.root)
    files = {key.rsplit("/", 1)[1]: storage.read_bytes(key) for key in written.keys}
    day = written.report.day.isoformat()
    if cfg.deliver_s3:
        bucket, prefix = _split_s3(cfg.deliver_s3)
        s3 = boto3.client("s3")
        for name, data in files.items():
            key = "/".join(p for p in (prefix, f"dt={day}", name) if p)
            kind = "text/html; charset=utf-8" if name.endswith(".html") else (
                "text/markdown; charset=utf-8" if name.endswith(".md") else "text/csv; charset=utf-8")
            s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=kind)
            out.s3_keys.append(f"s3://{bucket}/{key}")
    if cfg.email_to:
        if not cfg.email_from:
            raise ValueError("report.email_to is set but report.email_from (a verified SES sender) is not")
        ses = boto3.client("ses")
        answer = ses.send_email(
            Source=cfg.email_from,
            Destination={"ToAddresses": list(cfg.email_to)},
            Message={"Subject": {"Data": f"Footfall daily report {day}", "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": files["daily_report.md"].decode(), "Charset": "UTF-8"},
                              "Html": {"Data": files["daily_report.html"].decode(), "Charset": "UTF-8"}}},
        )
        out.email_message_id = answer["MessageId"]
    return out
