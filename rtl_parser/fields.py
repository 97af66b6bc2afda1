"""Field catalogues of the CloudFront log formats, in AWS's canonical order.

A real-time log record carries the *selected* fields in canonical order, so the position of
a field is derived from the selected set, never from the order a config lists them in.
"""

from __future__ import annotations

# AWS's canonical real-time log field order (docs/cloudfront-logs.md). Positions are 1-based
# in the docs; here the list index is position - 1.
REALTIME_FIELDS: tuple[str, ...] = (
    "timestamp", "c-ip", "s-ip", "time-to-first-byte", "sc-status", "sc-bytes",
    "cs-method", "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes", "x-edge-location",
    "x-edge-request-id", "x-host-header", "time-taken", "cs-protocol-version",
    "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
    "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-result-type", "fle-encrypted-fields", "fle-status", "sc-content-type",
    "sc-content-len", "sc-range-start", "sc-range-end", "c-port",
    "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
    "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count",
    "primary-distribution-id", "primary-distribution-dns-name", "origin-fbl", "origin-lbl",
    "asn",
    "cmcd-encoded-bitrate", "cmcd-buffer-length", "cmcd-buffer-starvation",
    "cmcd-content-id", "cmcd-object-duration", "cmcd-deadline", "cmcd-measured-throughput",
    "cmcd-next-object-request", "cmcd-next-range-request", "cmcd-object-type",
    "cmcd-playback-rate", "cmcd-requested-maximum-throughput", "cmcd-streaming-format",
    "cmcd-session-id", "cmcd-stream-type", "cmcd-startup", "cmcd-top-bitrate",
    "cmcd-version",
    "r-host", "sr-reason", "x-edge-mqcs",
)

# Default selection: the 46 fields up to and including `asn` (contract §4, `rtl.fields`).
DEFAULT_REALTIME_FIELDS: tuple[str, ...] = REALTIME_FIELDS[: REALTIME_FIELDS.index("asn") + 1]

# The 40 fields of the 2020 samples: everything up to cs-headers-count, without s-ip.
REALTIME_FIELDS_2020: tuple[str, ...] = tuple(
    f for f in REALTIME_FIELDS[: REALTIME_FIELDS.index("cs-headers-count") + 1] if f != "s-ip"
)

# Standard (access) log layout since December 2019: used for header-less input.
STANDARD_FIELDS_33: tuple[str, ...] = (
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)",
    "cs-uri-stem", "sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)",
    "x-edge-result-type", "x-edge-request-id", "x-host-header", "cs-protocol", "cs-bytes",
    "time-taken", "x-forwarded-for", "ssl-protocol", "ssl-cipher",
    "x-edge-response-result-type", "cs-protocol-version", "fle-status",
    "fle-encrypted-fields", "c-port", "time-to-first-byte", "x-edge-detailed-result-type",
    "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
)

# Standard-log spellings of fields that real-time logs name differently.
STANDARD_ALIASES: dict[str, str] = {
    "cs(Referer)": "cs-referer",
    "cs(User-Agent)": "cs-user-agent",
    "cs(Cookie)": "cs-cookie",
    # In standard logs cs(Host) is the distribution's domain and x-host-header the site:
    # the opposite of real-time logs. Give them role names so nothing downstream guesses.
    "cs(Host)": "distribution-host",
    "x-host-header": "site-host",
}


def realtime_positions(selected: list[str] | tuple[str, ...]) -> list[str]:
    """Return the selected real-time fields in delivery (canonical) order.

    Raises ValueError naming any field AWS does not define, so a typo in `rtl.fields` is a
    clear configuration error rather than silently shifted columns.
    """
    unknown = sorted(set(selected) - set(REALTIME_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown real-time log field(s) {', '.join(unknown)}; "
            f"valid names are listed in docs/cloudfront-logs.md"
        )
    chosen = set(selected)
    return [f for f in REALTIME_FIELDS if f in chosen]


def standard_names(fields_line: str, delimiter: str = "\t") -> list[str]:
    """Field names of a standard log `#Fields:` directive, with role aliases applied; the
    names are separated by spaces, or by the records' own delimiter."""
    body = fields_line.split(":", 1)[1] if ":" in fields_line else ""
    names = (body.replace(delimiter, " ") if delimiter.strip() else body).split()
    return [STANDARD_ALIASES.get(n, n) for n in names]
