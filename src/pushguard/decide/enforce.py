"""Enforcement intents: what each IdP must change so that its next prompt follows a decision.

Okta, Entra and Duo do not ask an outside service before a push (DESIGN.md, "Enforcement"). A decision
reaches them through their own controls, and this module only says which: a pure mapping from
(request, decision, configuration) to ``ControlIntent`` values. No I/O, no clock: executing an intent over
HTTP, dry-run, retries and the audit log belong to the responder.

What each action becomes, per vendor (every group id is configured, per action):
- number_match: Okta, a group bound to an authentication policy with number challenge; Entra, nothing by
  default (Authenticator matches numbers for every push) or a group if configured; Duo, a policy group
  with Verified Duo Push.
- throttle: a group bound to a policy (Okta authentication policy, Entra Conditional Access, Duo policy
  group) that offers no push for a while.
- step_up: Okta, a group bound to a phishing-resistant-only authentication policy; Entra, a group a
  Conditional Access policy requires the phishing-resistant authentication strength for, plus confirm
  compromised in ID Protection when the risk reaches a configured threshold; Duo, a policy group that
  allows WebAuthn only.
- deny: a group bound to a deny rule / CA block policy / Duo deny policy group; Duo status ``disabled``
  only when ``disable_on_deny`` is set (it locks the user out of everything).

Every group membership expires (``ttl_s`` per action): ``expired`` turns the memberships the responder
applied into their removals once the time is past, so a step-up lasts while the risk does. A decision
whose action has no control configured at a vendor is reported as skipped, never mapped to a harsher
one: bombing a victim must not lock them out. Break-glass identities and report-only decisions give no
intent (``enforce_report_only`` overrides the latter)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from pushguard.detect.base import rfc3339
from pushguard.model import (
    ConfigError,
    Decision,
    DecisionAction,
    DecisionRequest,
    Provider,
    Severity,
    stable_id,
)
from pushguard.model.enforcement import Control, ControlIntent
from pushguard.model.files import read_yaml_file
from pushguard.vendorapi.endpoints import shown

__all__ = [
    "Account",
    "Control",
    "ControlIntent",
    "EnforcementConfig",
    "EnforcementPlan",
    "FindingRules",
    "Skipped",
    "VendorControls",
    "enforcement_config",
    "expired",
    "load_enforcement_config",
    "plan_enforcement",
]

ENFORCED_PROVIDERS = (Provider.OKTA, Provider.ENTRA, Provider.DUO)
DEFAULT_TTL_S: Mapping[DecisionAction, int] = {
    DecisionAction.NUMBER_MATCH: 7 * 86400,
    DecisionAction.THROTTLE: 3600,
    DecisionAction.STEP_UP: 24 * 3600,
    DecisionAction.DENY: 24 * 3600,
}


class VendorControls(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    groups: dict[DecisionAction, str] = {}  # action → id of the group bound to the control carrying it
    confirm_compromised_min_risk: int | None = None  # Entra only: also confirm compromised at this risk
    disable_on_deny: bool = False  # Duo only: status disabled on deny (a lock-out: off by default)


class FindingRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The closed loop (``decide.closed_loop``): which findings become intents as they are found."""

    enabled: bool = True
    # a finding (or revision) at least this severe acts: medium, since a step-up costs a person one
    # phishing-resistant sign-in, and bombing is medium from its 3rd prompt
    min_severity: Severity = Severity.MEDIUM
    # detector → action for humans; unlisted detectors step up (a human under attack is never locked out:
    # deny is refused here for humans, see enforcement_config)
    detectors: dict[str, DecisionAction] = {}
    ignore_detectors: frozenset[str] = frozenset()
    # Non-human identities (fnmatch patterns of the canonical identity), plus every identity a finding
    # of ``service_account_detectors`` names: no person to lock out, so ``service_account_action``.
    service_accounts: tuple[str, ...] = ()
    service_account_detectors: frozenset[str] = frozenset({"nhi_interactive_mfa"})
    service_account_action: DecisionAction = DecisionAction.DENY
    report_only_controls: frozenset[Control] = frozenset()  # planned and audited, never applied
    dry_run_controls: frozenset[Control] = frozenset()  # sent as dry runs (the request shown, not sent)
    max_per_identity_per_hour: int = 4  # intents planned for one identity; then reported, not planned
    max_per_hour: int = 200  # intents planned for the whole tenant; a flood of findings stops here
    max_targets: int = 50  # a finding about a source (a spray) acts on at most this many of its targets


class EnforcementConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    okta: VendorControls | None = None
    entra: VendorControls | None = None
    duo: VendorControls | None = None
    ttl_s: dict[DecisionAction, int] = {}  # per action; DEFAULT_TTL_S fills the rest
    break_glass: frozenset[str] = frozenset()  # identities never enforced on (emergency access)
    enforce_report_only: bool = False
    dry_run: bool = True  # carried on every intent: the executor only plans unless told otherwise
    findings: FindingRules = FindingRules()  # the closed loop's rules (service and workers)

    def controls(self, provider: Provider) -> VendorControls | None:
        found: VendorControls | None = getattr(self, provider.value, None)
        return found

    def ttl(self, action: DecisionAction) -> int:
        return self.ttl_s.get(action, DEFAULT_TTL_S.get(action, 0))


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """The identity's account at one vendor: login, and the immutable id when known."""

    provider: Provider
    login: str
    user_id: str | None = None


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    provider: Provider | None
    identity: str
    reason: str


class EnforcementPlan(msgspec.Struct, frozen=True, kw_only=True):
    intents: tuple[ControlIntent, ...]
    skipped: tuple[Skipped, ...]


def enforcement_config(data: Mapping[str, Any], source: str = "enforcement config") -> EnforcementConfig:
    """Validate a configuration mapping (from YAML or JSON); errors name the source and the field."""
    try:
        config = msgspec.convert(data, EnforcementConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    for provider in ENFORCED_PROVIDERS:
        controls = config.controls(provider)
        if controls is None:
            continue
        for action, group in controls.groups.items():
            if action is DecisionAction.ALLOW:
                raise ConfigError(f"{source}: {provider.value}.groups: 'allow' needs no control")
            if not group.strip():
                raise ConfigError(f"{source}: {provider.value}.groups.{action.value}: empty group id")
        if controls.confirm_compromised_min_risk is not None and provider is not Provider.ENTRA:
            raise ConfigError(
                f"{source}: {provider.value}.confirm_compromised_min_risk: only Entra ID Protection has it"
            )
        if controls.disable_on_deny and provider is not Provider.DUO:
            raise ConfigError(f"{source}: {provider.value}.disable_on_deny: only Duo users have a status")
    rules = config.findings
    for detector, chosen in rules.detectors.items():
        if chosen in (DecisionAction.ALLOW, DecisionAction.DENY):
            raise ConfigError(
                f"{source}: findings.detectors.{detector}: {chosen.value} is not an action for a person "
                "under attack (step_up, number_match or throttle; never a lock-out)"
            )
    for name in ("max_per_identity_per_hour", "max_per_hour", "max_targets"):
        if getattr(rules, name) < 1:
            raise ConfigError(f"{source}: findings.{name}: must be at least 1")
    for action, seconds in config.ttl_s.items():
        if seconds <= 0:
            raise ConfigError(f"{source}: ttl_s.{action.value}: must be positive seconds, got {seconds}")
    return config


def load_enforcement_config(path: Path) -> EnforcementConfig:
    """An enforcement YAML file (``examples/enforcement.yaml``); errors name the file."""
    data = read_yaml_file(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (okta, entra, duo, ttl_s, break_glass...)")
    return enforcement_config(data, str(path))


def _api(provider: Provider, control: Control, group: str | None, user: str, status: str | None) -> str:
    """The vendor request, from the one endpoint table the executor also sends from."""
    return shown(provider.value, control.value, group=group or "", user=user, status=status or "")


def _accounts(request: DecisionRequest, config: EnforcementConfig, given: Iterable[Account]) -> list[Account]:
    accounts = list(given)
    if accounts:
        return accounts
    providers = [request.provider] if request.provider is not None else list(ENFORCED_PROVIDERS)
    return [Account(provider=p, login=request.identity) for p in providers if config.controls(p) is not None]


def person_accounts(linked: Iterable[tuple[str, str]]) -> list[Account]:
    """A person's accounts as the identity resolver linked them ((provider, login) pairs,
    ``IdentityResolver.accounts_of``): a decision on one IdP is carried out on each of them, through
    that IdP's own controls."""
    enforced = {p.value: p for p in ENFORCED_PROVIDERS}
    return [Account(provider=enforced[p], login=login) for p, login in linked if p in enforced]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _reason(decision: Decision) -> str:
    return "; ".join(f"{r.code}: {r.message}" for r in decision.reasons) or decision.decision.value


def plan_enforcement(
    request: DecisionRequest,
    decision: Decision,
    config: EnforcementConfig,
    *,
    accounts: Sequence[Account] = (),
    active: Sequence[ControlIntent] = (),
) -> EnforcementPlan:
    """The intents that carry ``decision`` out at each vendor where the identity has an account (the
    request's provider when ``accounts`` is empty). ``active``: intents already applied and not yet
    expired; a membership still valid past the new expiry is not asked again."""
    identity = request.identity
    action = decision.decision
    skipped: list[Skipped] = []
    if action is DecisionAction.ALLOW:
        return EnforcementPlan(intents=(), skipped=())
    if identity in config.break_glass:
        return EnforcementPlan(
            intents=(), skipped=(Skipped(provider=None, identity=identity, reason="break-glass identity"),)
        )
    if decision.report_only and not config.enforce_report_only:
        reason = "report-only policy: decisions are logged, not enforced"
        return EnforcementPlan(
            intents=(), skipped=(Skipped(provider=None, identity=identity, reason=reason),)
        )
    decided = request.time
    expires = rfc3339(decided + timedelta(seconds=config.ttl(action)))
    holding = {i.slot: i.expires_at for i in active}
    intents: list[ControlIntent] = []
    for account in _accounts(request, config, accounts):
        controls = config.controls(account.provider)
        if controls is None:
            skipped.append(
                Skipped(provider=account.provider, identity=identity, reason="vendor not configured")
            )
            continue
        user = account.user_id or account.login
        wanted: list[tuple[Control, str | None, str | None, str | None, Control | None]] = []
        group = controls.groups.get(action)
        if group is not None:
            wanted.append((Control.ADD_TO_GROUP, group, None, expires, Control.REMOVE_FROM_GROUP))
        if action is DecisionAction.DENY and controls.disable_on_deny:
            wanted.append((Control.SET_USER_STATUS, None, "disabled", expires, Control.SET_USER_STATUS))
        threshold = controls.confirm_compromised_min_risk
        if (
            threshold is not None
            and action.rank >= DecisionAction.STEP_UP.rank
            and decision.risk >= threshold
        ):
            wanted.append((Control.CONFIRM_COMPROMISED, None, None, None, None))
        if not wanted:
            skipped.append(
                Skipped(
                    provider=account.provider,
                    identity=identity,
                    reason=f"no control configured for {action.value} at {account.provider.value}",
                )
            )
            continue
        for control, group_id, status, until, undo in wanted:
            slot = (account.provider, account.login, control, group_id, status)
            held = holding.get(slot, "")
            if slot in holding and (held is None or (until is not None and _at(held) >= _at(until))):
                why = f"{control.value} {group_id or status or ''} already in effect until {held or 'undone'}"
                skipped.append(Skipped(provider=account.provider, identity=identity, reason=why.strip()))
                continue
            intents.append(
                ControlIntent(
                    key=stable_id(
                        account.provider.value,
                        user,
                        control.value,
                        group_id or status or "",
                        rfc3339(decided),
                    ),
                    provider=account.provider,
                    control=control,
                    identity=identity,
                    login=account.login,
                    user_id=account.user_id,
                    group_id=group_id,
                    status=status,
                    action=action,
                    expires_at=until,
                    undo=undo,
                    reason=_reason(decision),
                    risk=decision.risk,
                    policy_version=decision.policy_version,
                    decided_at=decision.evaluated_at,
                    api=_api(account.provider, control, group_id, user, status),
                    dry_run=config.dry_run,
                )
            )
    return EnforcementPlan(intents=tuple(intents), skipped=tuple(skipped))


def expired(active: Sequence[ControlIntent], now: datetime) -> list[ControlIntent]:
    """The undo intents of the applied ones whose expiry is at or before ``now`` (the caller's clock):
    removal from the group, Duo status back to active. Confirm-compromised has no automatic undo."""
    undone: list[ControlIntent] = []
    for intent in active:
        if intent.expires_at is None or intent.undo is None or _at(intent.expires_at) > now:
            continue
        status = "active" if intent.control is Control.SET_USER_STATUS else None
        user = intent.user_id or intent.login
        undone.append(
            msgspec.structs.replace(
                intent,
                key=stable_id(intent.key, "undo"),
                control=intent.undo,
                status=status,
                expires_at=None,
                undo=None,
                reason=f"expired at {intent.expires_at}: {intent.action.value} lifted",
                api=_api(intent.provider, intent.undo, intent.group_id, user, status),
            )
        )
    return undone
