"""Gold → the daily report (HTML, Markdown, CSV), optionally delivered to S3 or by SES."""
