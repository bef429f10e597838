"""Service configuration: a YAML file, then ``PUSHGUARD_*`` environment variables over it.

Secrets (the Okta event-hook secret) are best given by environment; the key file holds only hashes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from pushguard.model import ConfigError

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # bytes: an Okta event-hook delivery is far smaller


class ServiceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    state: str = "pushguard.sqlite"  # SQLite state file (":memory:" keeps state in memory)
    keys_file: str = "pushguard-keys.json"
    policy: str | None = None  # policy file; the bundled default policy when unset
    decision_log: str | None = None  # JSON Lines file every decision is appended to
    max_body_bytes: int = DEFAULT_MAX_BODY
    okta_hook_secret: str | None = None  # the value Okta sends in okta_hook_header
    okta_hook_header: str = "Authorization"
    page_size_max: int = 500
    log_level: str = "INFO"
    detectors: dict[str, Any] = {}  # detector tunables, as in `analyze --config`


_ENV = {
    "PUSHGUARD_STATE": "state",
    "PUSHGUARD_KEYS_FILE": "keys_file",
    "PUSHGUARD_POLICY": "policy",
    "PUSHGUARD_DECISION_LOG": "decision_log",
    "PUSHGUARD_MAX_BODY_BYTES": "max_body_bytes",
    "PUSHGUARD_OKTA_HOOK_SECRET": "okta_hook_secret",
    "PUSHGUARD_OKTA_HOOK_HEADER": "okta_hook_header",
    "PUSHGUARD_LOG_LEVEL": "log_level",
}


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """The file's settings (if any), overridden by the environment; a precise error on a bad value."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        raw = dict(loaded or {})
    env = os.environ if environ is None else environ
    for name, field in _ENV.items():
        if name in env:
            raw[field] = int(env[name]) if field == "max_body_bytes" and env[name].isdigit() else env[name]
    try:
        config = msgspec.convert(raw, ServiceConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path or 'environment'}: {exc}") from exc
    if config.max_body_bytes < 1024:
        raise ConfigError(f"{path or 'environment'}: max_body_bytes must be at least 1024")
    return config
