"""Decisions recorded (decision log lines and ``decision`` Events) and joined to the vendor's records of
the same prompt or enrollment: identity, operation, time window bounded by the next decision, IP; leaks
where the vendor let through what the decision escalated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.backtest import (
    DecisionRecord,
    decision_event,
    join_decisions,
    join_summary,
    read_decisions,
)
from pushguard.decide import evaluate, load_policy
from pushguard.decide.record import action_of, operation_of
from pushguard.model import (
    DecisionAction,
    DecisionRequest,
    EventKind,
    IdentityProfile,
    Operation,
    Provider,
)
from pushguard.simulate import okta_records as okta
from tests.events import T0

VICTIM = "victim@corp.example"
FIXTURES = Path(__file__).parent / "fixtures"


def record(
    at: datetime,
    ip: str | None,
    action: DecisionAction,
    operation: Operation = Operation.PUSH,
    identity: str = VICTIM,
) -> DecisionRecord:
    request = DecisionRequest(operation=operation, identity=identity, time=at, ip=ip, provider=Provider.OKTA)
    decision = evaluate(request, IdentityProfile(identity=identity), load_policy(None))
    return DecisionRecord(request=request, decision=msgspec.structs.replace(decision, decision=action))


def write(path: Path, lines: list[Any]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
    return path


def test_a_decision_event_carries_what_the_join_needs() -> None:
    item = record(T0, "203.0.113.66", DecisionAction.STEP_UP)
    event = decision_event(item.request, item.decision)
    assert event.kind is EventKind.DECISION and event.provider is Provider.PUSHGUARD
    assert event.identity == VICTIM and event.time == T0 and event.ip == "203.0.113.66"
    assert operation_of(event) is Operation.PUSH and action_of(event) is DecisionAction.STEP_UP
    assert event.detail is not None and "policy default-2026.12" in event.detail
    assert decision_event(item.request, item.decision).event_id == event.event_id  # same request, same id
    other = record(T0 + timedelta(seconds=1), "203.0.113.66", DecisionAction.STEP_UP)
    assert decision_event(other.request, other.decision).event_id != event.event_id
    broken = msgspec.structs.replace(event, detail="sideways; policy x")
    with pytest.raises(ValueError, match=event.event_id):
        operation_of(broken)


def test_decisions_join_their_prompts_and_show_leaks(tmp_path: Path) -> None:
    decided = [
        record(T0, "203.0.113.66", DecisionAction.STEP_UP),  # attacker's push: approved anyway → leak
        record(T0 + timedelta(minutes=10), "88.160.137.23", DecisionAction.NUMBER_MATCH),
        record(T0 + timedelta(minutes=20), "198.51.100.9", DecisionAction.NUMBER_MATCH),  # never sent
        record(T0 + timedelta(minutes=30), "203.0.113.66", DecisionAction.THROTTLE),  # sent anyway → leak
    ]
    records = [
        okta.push_sent(T0 + timedelta(seconds=3), VICTIM, "203.0.113.66", "lagos", seed="s0"),
        okta.push_answer(T0 + timedelta(seconds=20), VICTIM, "203.0.113.66", "lagos", True, seed="a0"),
        okta.push_sent(T0 + timedelta(minutes=10, seconds=2), VICTIM, "88.160.137.23", "paris", seed="s1"),
        # the phone's own denial record: its IP is the responder's, so it has no requester IP to compare
        okta.deny_push(T0 + timedelta(minutes=10, seconds=9), VICTIM, "37.166.94.231", "paris", seed="d1"),
        okta.push_sent(T0 + timedelta(minutes=30, seconds=1), VICTIM, "203.0.113.66", "lagos", seed="s3"),
    ]
    log = write(tmp_path / "okta.jsonl", records)
    first, second, third, fourth = join_decisions(decided, [log])
    assert first.outcome == "push_approved" and first.leak and len(first.event_ids) == 2
    assert second.outcome == "push_denied" and not second.leak
    assert third.outcome == "not found" and third.event_ids == [] and not third.leak
    assert fourth.outcome == "push_sent, no answer logged" and fourth.leak
    summary = join_summary([first, second, third, fourth])
    assert summary["leaks"] == {"step_up": 1, "throttle": 1}
    assert summary["number_match"] == {"push_denied": 1, "not found": 1}


def test_a_record_joins_the_latest_decision_before_it_only(tmp_path: Path) -> None:
    # two decisions 30 s apart (a retry): the send after the second belongs to the second alone
    decided = [
        record(T0, "203.0.113.66", DecisionAction.NUMBER_MATCH),
        record(T0 + timedelta(seconds=30), "203.0.113.66", DecisionAction.STEP_UP),
    ]
    log = write(
        tmp_path / "okta.jsonl",
        [
            okta.push_sent(T0 + timedelta(seconds=2), VICTIM, "203.0.113.66", "lagos", seed="s0"),
            okta.push_sent(T0 + timedelta(seconds=32), VICTIM, "203.0.113.66", "lagos", seed="s1"),
            okta.push_answer(T0 + timedelta(seconds=50), VICTIM, "203.0.113.66", "lagos", True, seed="a1"),
        ],
    )
    first, second = join_decisions(decided, [log])
    assert len(first.event_ids) == 1 and first.outcome == "push_sent, no answer logged"
    assert len(second.event_ids) == 2 and second.outcome == "push_approved" and second.leak
    assert not set(first.event_ids) & set(second.event_ids)


def test_a_different_requester_ip_does_not_join(tmp_path: Path) -> None:
    log = write(
        tmp_path / "okta.jsonl",
        [okta.push_sent(T0 + timedelta(seconds=2), VICTIM, "88.160.137.23", "paris", seed="s0")],
    )
    (row,) = join_decisions([record(T0, "203.0.113.66", DecisionAction.STEP_UP)], [log])
    assert row.outcome == "not found"


def test_an_enrollment_decision_joins_the_entra_registration(tmp_path: Path) -> None:
    identity = "mara.lind@contoso-example.com"
    at = datetime(2024, 5, 7, 3, 10, 30, tzinfo=UTC)  # 30 s before the 03:11 authenticator change
    enroll = record(at, "102.89.34.12", DecisionAction.STEP_UP, Operation.ENROLL, identity)
    push = record(at, "102.89.34.12", DecisionAction.NUMBER_MATCH, Operation.PUSH, identity)
    fixture = FIXTURES / "entra" / "audit-graph-handmade.jsonl"
    enrolled, pushed = join_decisions([enroll, push], [fixture])
    assert enrolled.outcome == "factor_enrolled" and enrolled.leak and len(enrolled.event_ids) == 1
    assert pushed.outcome == "not found"  # a registration is not a push


def test_the_log_reads_both_shapes_and_counts_broken_lines(tmp_path: Path) -> None:
    item = record(T0, "203.0.113.66", DecisionAction.STEP_UP)
    path = write(tmp_path / "decisions.jsonl", [item, decision_event(item.request, item.decision)])
    with path.open("ab") as handle:
        handle.write(b"{}\n\n" + b'{"request": {"operation": "push"}}\n')
    log = read_decisions(path)
    assert len(log.decisions) == 2 and log.decisions[0] == log.decisions[1]
    assert len(log.errors) == 2
    assert log.errors[0].startswith(f"{path}:3: not a decision record")
    assert log.errors[1].startswith(f"{path}:5: ")
    rows = join_decisions(log.decisions, [write(tmp_path / "empty.jsonl", [])])
    assert [r.outcome for r in rows] == ["not found", "not found"]
