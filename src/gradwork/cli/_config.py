"""The configuration schema now lives in `gradwork.train.config` (tune builds from it too)."""

from gradwork.train.config import (  # noqa: F401 - re-exported for the command line
    CHOICES,
    SCHEMA,
    ConfigError,
    load_toml,
    resolve,
)
