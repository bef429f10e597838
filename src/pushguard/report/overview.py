"""The executive summary at the top of the report: how many people are affected, how many approved an
attacker's push, which new authenticators look like the attacker's, which sources sprayed how many
accounts, and the first steps to take, worst incident first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pushguard.model import Finding, Severity
from pushguard.report.present import FACTOR_NAMES

# An enrollment review row scoring this much looks like an attacker's factor even without a finding
# (the review's weights: e.g. refusals before it 3 + an unfamiliar context 2 + hosting 1).
FLAG_SCORE = 6
TOP_ACTIONS = 6


def flag_enrollments(rows: Sequence[Mapping[str, Any]], findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The review rows, each with ``flagged``: an enrollment cited by a medium-or-worse finding, or one
    the review scores at ``FLAG_SCORE`` or more."""
    cited = {e for f in findings if f.severity.rank >= Severity.MEDIUM.rank for e in f.evidence}
    return [
        {
            **row,
            "flagged": row.get("operation") == "enrolled"
            and (row.get("event_id") in cited or int(row.get("score", 0)) >= FLAG_SCORE),
        }
        for row in rows
    ]


def executive_summary(
    incidents: Sequence[Mapping[str, Any]], enrollments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    serious = [i for i in incidents if i["rank"] >= Severity.MEDIUM.rank]
    people = sorted({i["user"] for i in serious if not i["source"]})
    approved = [i for i in incidents if i["approved"]]
    approved_people = sorted({i["user"] for i in approved})
    sprays = [i for i in incidents if i["source"]]
    targeted = sorted({t for i in sprays for t in i["targets"]})
    factors: list[dict[str, Any]] = [
        {
            "identity": row["identity"],
            "factor": FACTOR_NAMES.get(str(row["factor"]), str(row["factor"])),
            "factor_id": row.get("factor_id") or "",
            "time": row["time"],
            "place": row.get("place", ""),
        }
        for row in enrollments
        if row.get("flagged")
    ]
    if not enrollments:  # a report from a findings file: the enrollments its findings name
        factors = [
            {"identity": i["user"], "factor": name, "factor_id": factor_id, "time": at, "place": ""}
            for i in incidents
            for name, factor_id, at in i["enrolled"]
        ]
    actions = []
    for incident in incidents:
        if incident["rank"] < Severity.HIGH.rank or not incident["do_now"]:
            continue
        actions.append(
            {"incident": incident, "step": incident["do_now"][0], "more": len(incident["do_now"]) - 1}
        )
        if len(actions) == TOP_ACTIONS:
            break
    return {
        "people": people,
        "approved": approved_people,
        "factors": factors,
        "sprays": sprays,
        "targeted": targeted,
        "service_accounts": sorted({i["user"] for i in incidents if i["service_account"]}),
        "actions": actions,
        "more_actions": sum(1 for i in incidents if i["rank"] >= Severity.HIGH.rank and i["do_now"])
        - len(actions),
    }
