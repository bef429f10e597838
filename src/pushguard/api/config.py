"""Service configuration: a YAML file, then ``PUSHGUARD_*`` environment variables over it.

Secrets (the Okta event-hook secret) are best given by environment; the key file holds only hashes. Every
error names where the bad value came from (the file and the setting, or the variable) and never echoes a
secret's value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from pushguard.config import PipelineConfig, load_settings, pipeline_config
from pushguard.model import ConfigError, DecisionAction

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # bytes: an Okta event-hook delivery is far smaller
DEFAULT_READ_TIMEOUT_S = 30.0
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ServiceConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    state: str = "pushguard.sqlite"  # SQLite state file (":memory:" keeps state in memory)
    keys_file: str = "pushguard-keys.json"
    policy: str | None = None  # policy file; the bundled default policy when unset
    decide_fallback: DecisionAction | None = None  # when the store fails; None: the policy's fallback
    decision_log: str | None = None  # JSON Lines file every decision is appended to
    decision_log_max_bytes: int = 100 * 1024 * 1024  # then rotated: <file>.1, .2, …
    decision_log_keep: int = 5  # rotated files kept (the oldest is deleted)
    aliases: str | None = None  # alias map (CSV or YAML, as `analyze --aliases`) for ingestion and decide
    geoip_city: str | None = None  # MaxMind City .mmdb, as `analyze --geoip-city`
    geoip_asn: str | None = None  # MaxMind ASN .mmdb, as `analyze --geoip-asn`
    max_body_bytes: int = DEFAULT_MAX_BODY
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S  # a request's head, then its body, must arrive in this
    max_connections: int = 1000  # open connections (and requests in progress) per process; then 503
    okta_hook_secret: str | None = None  # the value Okta sends in okta_hook_header
    okta_hook_header: str = "Authorization"
    hook_spool: str | None = None  # deliveries kept here until processed; default: <state>.hooks
    advance_every_s: float = 30.0  # how often silence is let speak (push timeouts), 0: never
    allowed_lateness_s: float = 300.0  # silence is judged this far behind the newest event seen
    # Ingested events wait this long (in event time, at most this long in wall time) for earlier ones to
    # arrive, then reach the detectors in time order; decide sees them this much later.
    reorder_window_s: float = 30.0
    commit_every: int = 1000  # events per store commit inside one ingested batch
    page_size_max: int = 500
    docs: bool = True  # /openapi.json, /docs and /redoc, answered without a key; false removes them
    log_level: str = "INFO"
    detectors: dict[str, Any] = {}  # detector tunables, as in `analyze --config`
    # the organisation's own networks, as in `analyze --config`: {trusted_networks, trusted_asns}
    organisation: dict[str, Any] = {}
    # Shared state (several replicas): with redis_url, /v1/events and the Okta hook put records on
    # the partition streams for `pushguard worker`, and decide/findings/identities read the workers' state.
    redis_url: str | None = None
    redis_prefix: str = "pg"
    redis_partitions: int | None = None  # fixed by the first ingest or worker; None: what is there
    # The closed loop: findings become the IdPs' own controls as they are found (examples/enforcement.yaml,
    # its ``findings`` rules). Dry run unless enforcement_execute, as `pushguard enforce --execute`.
    enforcement: str | None = None
    enforcement_execute: bool = False
    enforcement_state: str = "pushguard-enforcement.json"  # the same state file `enforce` reads
    audit_log: str = "pushguard-audit.jsonl"

    def pipeline(self, where: str = "service settings") -> PipelineConfig:
        """What builds the service's pipeline (``flow.Flow``): checked as ``analyze --config`` is."""
        return pipeline_config(
            self.detectors,
            self.organisation or None,
            where,
            aliases=self.aliases,
            geoip_city=self.geoip_city,
            geoip_asn=self.geoip_asn,
        )

    def spool_dir(self) -> Path | None:
        """Where hook deliveries wait; None keeps them in memory (an in-memory state has nothing to
        resume anyway)."""
        if self.hook_spool:
            return Path(self.hook_spool)
        return None if self.state == ":memory:" else Path(self.state + ".hooks")


SECRET_FIELDS = frozenset({"okta_hook_secret", "redis_url"})  # a Redis URL may carry its password
_ENV = {
    "PUSHGUARD_STATE": "state",
    "PUSHGUARD_KEYS_FILE": "keys_file",
    "PUSHGUARD_POLICY": "policy",
    "PUSHGUARD_DECIDE_FALLBACK": "decide_fallback",
    "PUSHGUARD_DECISION_LOG": "decision_log",
    "PUSHGUARD_DECISION_LOG_MAX_BYTES": "decision_log_max_bytes",
    "PUSHGUARD_DECISION_LOG_KEEP": "decision_log_keep",
    "PUSHGUARD_ALIASES": "aliases",
    "PUSHGUARD_GEOIP_CITY": "geoip_city",
    "PUSHGUARD_GEOIP_ASN": "geoip_asn",
    "PUSHGUARD_MAX_BODY_BYTES": "max_body_bytes",
    "PUSHGUARD_READ_TIMEOUT_S": "read_timeout_s",
    "PUSHGUARD_MAX_CONNECTIONS": "max_connections",
    "PUSHGUARD_OKTA_HOOK_SECRET": "okta_hook_secret",
    "PUSHGUARD_OKTA_HOOK_HEADER": "okta_hook_header",
    "PUSHGUARD_HOOK_SPOOL": "hook_spool",
    "PUSHGUARD_ADVANCE_EVERY_S": "advance_every_s",
    "PUSHGUARD_ALLOWED_LATENESS_S": "allowed_lateness_s",
    "PUSHGUARD_REORDER_WINDOW_S": "reorder_window_s",
    "PUSHGUARD_COMMIT_EVERY": "commit_every",
    "PUSHGUARD_PAGE_SIZE_MAX": "page_size_max",
    "PUSHGUARD_DOCS": "docs",
    "PUSHGUARD_LOG_LEVEL": "log_level",
    "PUSHGUARD_REDIS_URL": "redis_url",
    "PUSHGUARD_REDIS_PREFIX": "redis_prefix",
    "PUSHGUARD_REDIS_PARTITIONS": "redis_partitions",
}


def _check(config: ServiceConfig, where: str) -> None:
    problems = []
    if config.max_body_bytes < 1024:
        problems.append("max_body_bytes must be at least 1024")
    if config.read_timeout_s <= 0:
        problems.append("read_timeout_s must be positive")
    if config.decision_log_max_bytes < 4096 or config.decision_log_keep < 0:
        problems.append("decision_log_max_bytes must be at least 4096 and decision_log_keep not negative")
    if config.max_connections < 1:
        problems.append("max_connections must be at least 1")
    if config.page_size_max < 1:
        problems.append("page_size_max must be at least 1")
    if config.commit_every < 1:
        problems.append("commit_every must be at least 1")
    if config.advance_every_s < 0 or config.allowed_lateness_s < 0 or config.reorder_window_s < 0:
        problems.append("advance_every_s, allowed_lateness_s and reorder_window_s must not be negative")
    if config.log_level.upper() not in LOG_LEVELS:
        problems.append(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {config.log_level!r}")
    if config.okta_hook_secret is not None and len(config.okta_hook_secret) < 16:
        problems.append("okta_hook_secret must be at least 16 characters (a guessable secret is none)")
    if config.redis_url is not None and not config.redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("redis_url must start with redis://, rediss:// or unix://")
    if config.redis_partitions is not None and config.redis_partitions < 1:
        problems.append("redis_partitions must be at least 1")
    if not config.okta_hook_header.strip():
        problems.append("okta_hook_header must name a header")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    config.pipeline(where)  # the detectors' tunables and the organisation's networks, as --config's


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """The file's settings (if any), overridden by the environment; a precise error on a bad value."""
    env = os.environ if environ is None else environ
    names = dict(_ENV)
    if "PUSHGUARD_REDIS_URL" not in env and env.get("REDIS_URL"):  # the variable Redis hosts set
        names["REDIS_URL"] = "redis_url"
    config, where = load_settings(ServiceConfig, path, names, env, SECRET_FIELDS)
    _check(config, where)
    return config
