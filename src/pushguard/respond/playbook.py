"""The playbook: which findings trigger which actions, how many actions an hour, who is never touched.

```yaml
version: 1
rules:
  - name: approved after bombing           # shown in the audit log
    detectors: [approval_after_denials]    # or "*" for any detector
    min_severity: high                     # info | low | medium | high | critical
    min_confidence: 0.8                    # 0..1
    actions: [remove_attacker_factor, revoke_sessions]
    vendors: [okta, entra, duo]            # optional: limit to these
limits:
  max_actions_per_hour: 20                 # performed actions, all identities (counted in the audit log)
  max_actions_per_identity_per_day: 6
break_glass: [breakglass@example.com, "emergency-*@example.com"]   # globs, case-insensitive
notify:
  webhook: {url: "https://soar.example.com/hook", secret_env: PUSHGUARD_WEBHOOK_SECRET}
  syslog: {host: 127.0.0.1, port: 514, protocol: udp}              # or tcp
```"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from pathlib import Path
from typing import Any

import msgspec

from pushguard.model import ConfigError, Severity
from pushguard.model.files import read_yaml_file
from pushguard.respond.actions import Action

VENDORS = ("okta", "entra", "duo")


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    detectors: tuple[str, ...]  # empty: any detector
    min_severity: Severity
    min_confidence: float
    actions: tuple[Action, ...]
    vendors: tuple[str, ...] = VENDORS


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_actions_per_hour: int = 20
    max_actions_per_identity_per_day: int = 6


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    secret_env: str


class SyslogConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    port: int = 514
    protocol: str = "udp"


class Playbook(msgspec.Struct, frozen=True, kw_only=True):
    rules: tuple[Rule, ...]
    limits: Limits = Limits()
    break_glass: tuple[str, ...] = ()
    webhook: WebhookConfig | None = None
    syslog: SyslogConfig | None = None

    def is_break_glass(self, *names: str) -> bool:
        return any(fnmatch.fnmatchcase(n.lower(), g.lower()) for n in names if n for g in self.break_glass)


def _require(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}: {what}")
    return value


def _rule(raw: Any, where: str, known_detectors: Collection[str]) -> Rule:
    _require(raw, dict, where, "a rule must be a mapping")
    unknown = set(raw) - {"name", "detectors", "min_severity", "min_confidence", "actions", "vendors"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = _require(raw.get("name"), str, where, "'name' (text) is required")
    where = f"{where} ({name})"
    detectors = raw.get("detectors", "*")
    if detectors == "*":
        detectors = []
    _require(detectors, list, where, "'detectors' must be a list of detector ids or \"*\"")
    bad = [d for d in detectors if d not in known_detectors] if known_detectors else []
    if bad:
        raise ConfigError(f"{where}: unknown detector(s) {', '.join(map(str, bad))}")
    try:
        severity = Severity(raw.get("min_severity", "high"))
    except ValueError:
        raise ConfigError(f"{where}: min_severity must be one of {', '.join(Severity)}") from None
    confidence = raw.get("min_confidence", 0.0)
    if not isinstance(confidence, int | float) or isinstance(confidence, bool) or not 0 <= confidence <= 1:
        raise ConfigError(f"{where}: min_confidence must be a number from 0 to 1")
    actions = _require(raw.get("actions"), list, where, "'actions' (a non-empty list) is required")
    if not actions:
        raise ConfigError(f"{where}: 'actions' is empty")
    try:
        parsed = tuple(Action(a) for a in actions)
    except ValueError:
        raise ConfigError(f"{where}: actions must be among {', '.join(Action)}") from None
    vendors = _require(raw.get("vendors", list(VENDORS)), list, where, "'vendors' must be a list")
    if set(vendors) - set(VENDORS):
        raise ConfigError(f"{where}: vendors must be among {', '.join(VENDORS)}")
    return Rule(
        name=name,
        detectors=tuple(detectors),
        min_severity=severity,
        min_confidence=float(confidence),
        actions=parsed,
        vendors=tuple(vendors),
    )


def parse_playbook(data: Any, source: str, known_detectors: Collection[str] = ()) -> Playbook:
    _require(data, dict, source, "expected a mapping at the top level")
    unknown = set(data) - {"version", "rules", "limits", "break_glass", "notify"}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    if data.get("version", 1) != 1:
        raise ConfigError(f"{source}: version {data.get('version')!r} is not supported (1)")
    rules_raw = _require(data.get("rules"), list, source, "'rules' (a list) is required")
    rules = tuple(_rule(r, f"{source}: rules[{i}]", known_detectors) for i, r in enumerate(rules_raw))
    limits_raw = _require(data.get("limits") or {}, dict, source, "'limits' must be a mapping")
    try:
        limits = msgspec.convert(limits_raw, Limits)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: limits: {exc}") from None
    if limits.max_actions_per_hour < 0 or limits.max_actions_per_identity_per_day < 0:
        raise ConfigError(f"{source}: limits must not be negative")
    glass = _require(data.get("break_glass") or [], list, source, "'break_glass' must be a list of logins")
    if not all(isinstance(g, str) and g for g in glass):
        raise ConfigError(f"{source}: break_glass entries must be non-empty text")
    notify = _require(data.get("notify") or {}, dict, source, "'notify' must be a mapping")
    if set(notify) - {"webhook", "syslog"}:
        raise ConfigError(f"{source}: notify takes webhook and syslog only")
    try:
        webhook = msgspec.convert(notify["webhook"], WebhookConfig) if notify.get("webhook") else None
        syslog = msgspec.convert(notify["syslog"], SyslogConfig) if notify.get("syslog") else None
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: notify: {exc}") from None
    if syslog is not None and syslog.protocol not in ("udp", "tcp"):
        raise ConfigError(f"{source}: notify.syslog.protocol must be udp or tcp")
    if webhook is not None and not webhook.url.startswith(("https://", "http://")):
        raise ConfigError(f"{source}: notify.webhook.url must be an http(s) URL")
    return Playbook(rules=rules, limits=limits, break_glass=tuple(glass), webhook=webhook, syslog=syslog)


def load_playbook(path: Path, known_detectors: Collection[str] = ()) -> Playbook:
    data = read_yaml_file(path)
    return parse_playbook(data, str(path), known_detectors)
