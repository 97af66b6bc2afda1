"""Landing → silver: ingest assets, their checks and the landing sensor."""
