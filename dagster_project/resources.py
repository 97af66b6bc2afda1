"""Typed resources: Footfall's settings (with the local/cloud switch) and the hash key.

`lake_root` is the one switch between the embedded default (a local path, DuckDB) and the
cloud (an `s3://` root, and `engine = "athena"` in `footfall.toml`); every asset reaches the
lake through `pipelines.storage`, which serves both.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipelines.config import Settings, load_settings
from pipelines.hashing import MissingKeyError, load_key
from pipelines.storage import Storage

WRITER_WAIT_SECONDS = 600


class FootfallResource(dg.ConfigurableResource):
    """Settings from `footfall.toml` (or `$FOOTFALL_CONFIG`), with optional overrides."""

    config_path: str | None = Field(
        default=None, description="footfall.toml to read; default $FOOTFALL_CONFIG or ./footfall.toml")
    lake_root: str | None = Field(
        default=None, description="overrides lake.root: a local path or s3://bucket/prefix")

    def settings(self) -> Settings:
        return load_settings(self.config_path, lake=self.lake_root)

    def storage(self) -> Storage:
        return Storage(self.settings().lake.root)

    def writer_settings(self) -> Settings:
        """`settings()` for a run that writes the lake (ingest, retention): one the sensor or
        schedule started behind a CLI ingest should queue behind it, not fail, so it waits
        for the lake's writer lock at least 10 minutes."""
        settings = self.settings()
        return settings.with_writer_wait(max(settings.lake.writer_wait_seconds, WRITER_WAIT_SECONDS))


class HashKeyResource(dg.ConfigurableResource):
    """The secret for keyed pseudonymisation, found as the CLI finds it: the environment
    variable `identity.hash_key_env`, else the secret store `identity.hash_key_secret`.
    `key` is for tests and the demo; never put a real key in code or run config."""

    key: str | None = Field(default=None, description="HMAC key itself (tests, demo); "
                            "default: from the environment or the secret store")

    def bytes(self, settings: Settings) -> bytes:
        try:
            if self.key is None:
                return load_key(settings.identity)
            if len(self.key) < 16:
                raise MissingKeyError("the hash key is shorter than 16 characters")
        except MissingKeyError as err:
            raise dg.Failure(str(err)) from None
        return self.key.encode()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """What `definitions.py` binds: settings from the environment, the key from the
    environment or the secret store, read when a run needs it."""
    return {"footfall": FootfallResource(), "hash_key": HashKeyResource()}
