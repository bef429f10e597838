"""Carrying out a plan: dry run (the default: no request leaves the machine) or execute.

Every planned action becomes one audit entry: planned (dry run), performed (with how to undo it),
failed (with the vendor's status and message) or skipped (with why). In execute mode each incident's
results go to the webhook and to syslog, and the delivery of each notification is audited too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pushguard.respond.actions import Action, ActionResult, Outcome, Target
from pushguard.respond.audit import AuditLog
from pushguard.respond.notify import NotifyFailedError, Syslog, Webhook, cef_line
from pushguard.respond.planner import PlannedAction
from pushguard.respond.vendor import Responder, ResponderPool
from pushguard.vendorapi.endpoints import exists as endpoint_exists
from pushguard.vendorapi.endpoints import shown

# What an execute run would call, shown in a dry run ({user} is the vendor user id, resolved then; the
# factor is the one the logs name, found then), from the one table of vendor calls.
_UNKNOWN = {
    "okta": {"factor": "<enrolled factor>"},
    "entra": {"collection": "<kind>Methods", "factor": "<enrolled>"},
    "duo": {"factor": "<enrolled phone>"},
}
PLANNED_CALLS: dict[tuple[str, Action], str] = {
    (vendor, action): shown(vendor, action.value, prefixed=False, user="{user}", **_UNKNOWN[vendor])
    for vendor in ("okta", "entra", "duo")
    for action in Action
    if endpoint_exists(vendor, action.value)
}

ResponderFactory = Callable[[str], Responder]


def _entry(item: PlannedAction, mode: str, result: ActionResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "action",
        "mode": mode,
        "incident": item.incident,
        "identity": item.identity,
        "vendor": item.account.provider,
        "login": item.account.login,
        "user_id": item.account.user_id,
        "action": item.action.value,
        "rule": item.rule,
        "findings": list(item.findings),
        "severity": item.severity,
        "confidence": item.confidence,
        "outcome": result.outcome.value,
        "detail": result.detail,
        "requests": list(result.requests),
    }
    for name in ("undo", "status"):
        value = getattr(result, name)
        if value is not None:
            entry[name] = value
    if result.notes:
        entry["notes"] = list(result.notes)
    return entry


def dry_run_result(item: PlannedAction, target: Target | None = None) -> ActionResult:
    vendor = item.account.provider
    call = PLANNED_CALLS.get((vendor, item.action))
    if call is None:
        return ActionResult(outcome=Outcome.SKIPPED, detail=f"{vendor} offers no {item.action.value}")
    user = item.account.user_id or f"<id of {item.account.login}>"
    detail = "dry run: would call " + call.replace("{user}", user)  # not str.format: bodies hold braces
    if item.action is Action.REMOVE_ATTACKER_FACTOR and target is not None:
        enrolled = [e for e in target.enrolled if e.provider == vendor]
        if enrolled:
            named = ", ".join(f"{e.factor or 'factor'} {e.factor_id or ''} at {e.time}".replace("  ", " ")
                              for e in enrolled)  # fmt: skip
            detail += f"; the factor enrolled in the incident: {named}"
        elif vendor == "duo":
            return ActionResult(
                outcome=Outcome.SKIPPED,
                detail="would not act: the logs name no phone enrolled in the incident (pass --logs)",
            )
        else:
            detail += (
                f"; the one factor created in the incident window {target.window[0]}..{target.window[1]}"
            )
    return ActionResult(outcome=Outcome.PLANNED, detail=detail)


class Runner:
    def __init__(
        self,
        audit: AuditLog,
        *,
        execute: bool,
        responders: ResponderFactory | None = None,
        webhook: Webhook | None = None,
        syslog: Syslog | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        if execute and responders is None:
            raise ValueError("execute needs vendor responders")
        self.audit = audit
        self.execute = execute
        self._responders = ResponderPool(responders)
        self.webhook = webhook
        self.syslog = syslog
        self._clock = clock
        self.counts: Counter[str] = Counter()

    def close(self) -> None:
        self._responders.close()

    def run(self, planned: Sequence[PlannedAction], targets: Mapping[str, Target]) -> list[dict[str, Any]]:
        mode = "execute" if self.execute else "dry_run"
        written: list[dict[str, Any]] = []
        by_incident: dict[str, list[dict[str, Any]]] = {}
        for item in planned:
            if item.skip is not None:
                result = ActionResult(outcome=Outcome.SKIPPED, detail=item.skip)
            elif not self.execute:
                result = dry_run_result(item, targets.get(item.incident))
            else:
                responder = self._responders.get(item.account.provider)
                if isinstance(responder, str):
                    result = ActionResult(outcome=Outcome.FAILED, detail=responder)
                else:
                    result = responder.perform(item.action, item.account, targets[item.incident])
            entry = self.audit.append(_entry(item, mode, result))
            self.counts[result.outcome.value] += 1
            written.append(entry)
            by_incident.setdefault(item.incident, []).append(entry)
        if self.execute:
            for incident, entries in by_incident.items():
                self._notify(incident, entries)
        return written

    def _notify(self, incident: str, entries: list[dict[str, Any]]) -> None:
        now = self._clock()
        if self.webhook is not None:
            head = self.audit.head  # the anchor: the receiver keeps it, audit-verify --head checks it
            payload = {
                "type": "pushguard.response",
                "audit_head": {"seq": head.seq, "hash": head.hash},
                "incident": incident,
                "identity": entries[0]["identity"],
                "severity": entries[0]["severity"],
                "findings": sorted({f for e in entries for f in e["findings"]}),
                "actions": [
                    {k: e.get(k) for k in ("vendor", "login", "action", "outcome", "detail", "undo", "seq")}
                    for e in entries
                ],
            }
            self._delivered("webhook", self.webhook.url, incident, lambda: self.webhook_send(payload))
        if self.syslog is not None:
            for entry in entries:
                self._send_syslog(self.syslog, incident, entry, now)

    def _send_syslog(self, syslog: Syslog, incident: str, e: dict[str, Any], now: datetime) -> None:
        cef = cef_line(
            f"respond.{e['action']}",
            f"{e['action']} {e['outcome']}",
            e["severity"],
            {
                "act": e["action"],
                "outcome": e["outcome"],
                "suser": e["login"],
                "cs1Label": "incident",
                "cs1": incident,
                "cs2Label": "vendor",
                "cs2": e["vendor"],
                "cs3Label": "rule",
                "cs3": e["rule"],
                "cs4Label": "auditSeq",
                "cs4": e["seq"],
                "cs5Label": "auditHead",
                "cs5": str(self.audit.head),
                "msg": e["detail"],
            },
            now,
        )
        where = f"{syslog.config.protocol}://{syslog.config.host}:{syslog.config.port}"
        self._delivered("syslog", where, incident, lambda: syslog.send(cef, e["severity"], now))

    def webhook_send(self, payload: Mapping[str, Any]) -> None:
        assert self.webhook is not None
        self.webhook.send(payload)

    def _delivered(self, channel: str, where: str, incident: str, send: Callable[[], None]) -> None:
        try:
            send()
            outcome, detail = "sent", f"sent to {where}"
        except NotifyFailedError as exc:
            outcome, detail = "failed", str(exc)
        self.counts[f"notify_{outcome}"] += 1
        self.audit.append(
            {"kind": "notify", "channel": channel, "incident": incident, "outcome": outcome, "detail": detail}
        )
