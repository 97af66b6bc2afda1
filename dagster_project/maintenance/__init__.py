"""Lake upkeep: retention (and later erasure) as jobs, on their own schedule."""
