"""Silver → gold: one asset per SQL mart in `sql/marts/`, their checks and the daily schedule."""
