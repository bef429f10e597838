"""The closed loop's controls as the report shows them: per finding, which IdP control was put in place
(or would have been, in a dry run), when, and how long after the IdP event that raised the finding.

From the enforcement audit log's entries (the caller reads them with ``respond.audit.read_chain``,
which checks the chain, so a report never shows an edited log's figures): those the closed loop wrote
carry the finding's id and its timing (``respond.enforcer.closed_loop_timing``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

CONTROL_NAMES = {
    "add_to_group": "added to the {action} group",
    "remove_from_group": "removed from the {action} group",
    "set_user_status": "account status set for {action}",
    "confirm_compromised": "confirmed compromised",
}


def controls_by_finding(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Finding id → the closed loop's audit entries for it, oldest first."""
    by_finding: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        finding = entry.get("finding")
        if entry.get("kind") != "enforce" or not isinstance(finding, str) or entry.get("lifts"):
            continue  # not the closed loop's, or the undo at expiry (no time to control)
        by_finding[finding].append(dict(entry))
    return dict(by_finding)


def control_rows(
    finding_ids: Sequence[str], controls: Mapping[str, Sequence[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """One row per control the incident's findings led to, in the order they landed."""
    rows = []
    for finding in finding_ids:
        for entry in controls.get(finding, ()):
            action = str(entry.get("action", ""))
            control = str(entry.get("control", ""))
            seconds = entry.get("time_to_control_s")
            rows.append(
                {
                    "what": CONTROL_NAMES.get(control, control.replace("_", " ")).format(action=action),
                    "vendor": str(entry.get("vendor", "")),
                    "login": str(entry.get("login") or entry.get("identity") or ""),
                    "outcome": str(entry.get("outcome", "")),
                    "dry_run": entry.get("mode") == "dry_run",
                    "at": entry.get("applied_at"),
                    "seconds": float(seconds) if isinstance(seconds, int | float) else None,
                }
            )
    return sorted(rows, key=lambda row: str(row["at"] or ""))


def time_to_control(rows: Iterable[Mapping[str, Any]]) -> dict[str, float | int] | None:
    """Median and worst time from the IdP event to a control in place, over controls actually made."""
    seconds = [row["seconds"] for row in rows if row["seconds"] is not None and row["outcome"] == "performed"]
    if not seconds:
        return None
    return {"count": len(seconds), "median_s": round(median(seconds), 1), "max_s": round(max(seconds), 1)}
