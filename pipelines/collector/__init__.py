"""The collector: browsers' beacon batches → contract §5a landing records.

`core` validates and enriches (no I/O), `sinks` write to the local landing zone or to
Firehose, `asgi` and `lambda_handler` are the two front doors sharing that core.
"""
