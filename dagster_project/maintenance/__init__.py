"""Lake upkeep as jobs: retention on its own schedule, verify from the Launchpad."""
