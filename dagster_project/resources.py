"""Typed resources: Footfall's settings (with the local/cloud switch) and the hash key.

`lake_root` is the one switch between the embedded default (a local path, DuckDB) and the
cloud (an `s3://` root, and `engine = "athena"` in `footfall.toml`); every asset reaches the
lake through `pipelines.storage`, which serves both.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipelines.config import Settings, load_settings
from pipelines.storage import Storage


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


class HashKeyResource(dg.ConfigurableResource):
    """The secret for keyed pseudonymisation; give it with `dg.EnvVar`, never a literal."""

    key: str = Field(description="HMAC key (at least 16 characters), from the environment")

    def bytes(self) -> bytes:
        if len(self.key) < 16:
            raise dg.Failure("the hash key is shorter than 16 characters: set FOOTFALL_HASH_KEY "
                             "to a secret from your secret store")
        return self.key.encode()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """What `definitions.py` binds: settings from the environment, the key from FOOTFALL_HASH_KEY."""
    return {
        "footfall": FootfallResource(),
        "hash_key": HashKeyResource(key=dg.EnvVar("FOOTFALL_HASH_KEY")),
    }
