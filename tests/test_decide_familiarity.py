"""Familiarity signals at the decision point: the detectors' judgement (detect/familiarity.py) of a
request's context, the organisation's table read from decide's store, and the policy-test facts that set
them. Each signal is tested with the case it is for and a benign look-alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.decide import VARIABLES, PolicyError, compute_signals, decide, evaluate, load_policy
from pushguard.decide.context import org_bits, request_event
from pushguard.decide.policy import parse_policy
from pushguard.decide.testing import CaseError, build_profile
from pushguard.detect.familiarity import assess
from pushguard.detect.org import ORG_MIN_PEOPLE, ORG_STATE_KEY, OrgKnowledge, OrgTable, OrgTrust
from pushguard.model import (
    ORG_ASN,
    ORG_NET,
    DecisionAction,
    DecisionRequest,
    Event,
    EventKind,
    Geo,
    IdentityProfile,
    Provider,
)
from pushguard.store.base import Commit
from tests.api_env import DECIDE, running

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOME = {"country": "FR", "asn": 3215}
NEW_SIGNALS = (
    "context_level",
    "familiar_network",
    "familiar_device",
    "familiar_browser",
    "org_network",
    "hostile_context",
    "history_days",
    "thin_history",
    "context",
)


def request(**fields: Any) -> DecisionRequest:
    data: dict[str, Any] = {"operation": "push", "identity": "alice@corp.example", "time": NOW}
    data.update(fields)
    return msgspec.convert(data, DecisionRequest)


def signals(req: DecisionRequest, facts: dict[str, Any], org: int | None = None) -> dict[str, Any]:
    prof = build_profile(req.identity, req.time, facts, req)
    return compute_signals(req, prof, org)


def laptop(**fields: Any) -> DecisionRequest:
    base: dict[str, Any] = {
        "factor": "okta_verify_push",
        "ip": "198.51.100.7",
        "device_id": "laptop-1",
        "device_os": "Windows",
        "device_browser": "Chrome",
        "geo": HOME,
    }
    base.update(fields)
    return request(**base)


def test_every_new_signal_is_declared_and_typed() -> None:
    computed = signals(laptop(), {"history": True})
    types = {"bool": bool, "int": int, "string": str}
    for name in NEW_SIGNALS:
        assert name in VARIABLES
        assert isinstance(computed[name], types[VARIABLES[name][0]]), name


def test_own_network_and_device_are_familiar() -> None:
    got = signals(laptop(), {"history": True, "familiar": ["ip", "device", "browser"]})
    assert got["context_level"] == "familiar"
    assert got["familiar_network"] and got["familiar_device"] and got["familiar_browser"]
    assert not got["hostile_context"] and not got["thin_history"]
    assert got["history_days"] == 30


def test_a_new_address_in_the_own_24_is_still_the_own_network() -> None:
    # look-alike of "new ip": the home router got another address in the same /24
    got = signals(laptop(ip="198.51.100.99"), {"history": True, "familiar": ["net", "browser"]})
    assert got["familiar_network"]
    assert got["context_level"] == "familiar"


def test_a_new_network_with_a_new_browser_is_unfamiliar() -> None:
    req = laptop(
        ip="203.0.113.9", device_id=None, device_browser="Firefox", geo={"country": "FR", "asn": 64500}
    )
    got = signals(req, {"history": True, "ips": ["198.51.100.7"], "agents": ["windows|chrome"]})
    assert got["context_level"] == "unfamiliar"
    assert not got["familiar_network"] and not got["familiar_device"] and not got["familiar_browser"]


def test_the_usual_browser_on_a_hotel_network_is_partly_familiar() -> None:
    # look-alike of an attacker's new network: the person's own browser, at home, on a new network
    req = laptop(ip="203.0.113.9", device_id=None, geo={"country": "FR", "asn": 64500})
    got = signals(req, {"history": True, "ips": ["198.51.100.7"], "familiar": ["browser", "country"]})
    assert got["context_level"] == "partly"
    assert got["familiar_browser"] and not got["familiar_device"]


def test_the_browser_is_parsed_from_the_user_agent_when_not_named() -> None:
    ua = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    req = request(ip="198.51.100.7", user_agent=ua)
    device = request_event(req).device
    assert device is not None and device.browser is not None and device.browser.startswith("Chrome")


def test_org_network_from_the_organisation_table() -> None:
    req = laptop(ip="192.0.2.10", device_id=None)
    got = signals(req, {"history": True, "familiar": ["browser"], "org": ["net"]})
    assert got["org_network"] and got["familiar_network"] and got["context_level"] == "familiar"
    # look-alike: the operator (ASN) colleagues use is not the office network
    got = signals(req, {"history": True, "familiar": ["browser"], "org": ["asn"]})
    assert not got["org_network"] and not got["familiar_network"]
    assert got["context_level"] == "partly"


def test_hostile_context_needs_a_country_nobody_here_uses() -> None:
    req = laptop(ip="203.0.113.9", device_id=None, geo={"country": "NG", "asn": 64501})
    facts = {"history": True, "countries": ["FR"], "familiar": ["browser"]}
    assert signals(req, {**facts, "org": ["mature"]})["hostile_context"]
    assert signals(req, {**facts, "org": ["mature"]})["context_level"] == "unfamiliar"
    # look-alikes: a country colleagues sign in from; an organisation that knows no countries yet
    assert not signals(req, {**facts, "org": ["mature", "country"]})["hostile_context"]
    assert not signals(req, facts)["hostile_context"]


def test_hostile_context_for_hosting_egress_nobody_uses() -> None:
    geo = {"country": "FR", "asn": 14061, "is_hosting": True}
    req = laptop(ip="203.0.113.9", device_id=None, geo=geo)
    assert signals(req, {"history": True, "familiar": ["browser"]})["hostile_context"]
    # look-alike: the company VPN's hosting provider, used by colleagues
    assert not signals(req, {"history": True, "familiar": ["browser"], "org": ["asn"]})["hostile_context"]


def test_thin_history() -> None:
    assert signals(laptop(), {"history": True, "history_days": 1})["thin_history"]
    assert signals(laptop(), {"history": True, "history_days": 1})["history_days"] == 1
    assert not signals(laptop(), {"history": True, "history_days": 3})["thin_history"]


def test_the_signals_agree_with_the_detectors_judgement() -> None:
    req = laptop(ip="203.0.113.9", geo={"country": "FR", "asn": 64500})
    prof = build_profile(req.identity, req.time, {"history": True, "familiar": ["browser"]}, req)
    event = Event(
        provider=Provider.OKTA,
        event_id="e1",
        time=NOW,
        kind=EventKind.PUSH_SENT,
        identity=req.identity,
        ip=req.ip,
        geo=req.geo,
        device=request_event(req).device,
    )
    judged = assess(event, prof)
    got = compute_signals(req, prof, 0)
    assert got["context_level"] == judged.level.name.lower()
    assert got["context"] == judged.describe()


def test_familiar_fact_needs_the_request_to_name_it() -> None:
    with pytest.raises(CaseError, match="familiar: device"):
        build_profile("a@b", NOW, {"familiar": ["device"]}, request())
    with pytest.raises(CaseError, match=r"profile\.org: unknown"):
        build_profile("a@b", NOW, {"org": ["office"]}, request())
    with pytest.raises(CaseError, match="history_days"):
        build_profile("a@b", NOW, {"history_days": -1}, request())


def _table_with_office(net_ip: str) -> OrgTable:
    table = OrgTable()
    for person in range(ORG_MIN_PEOPLE):
        success = Event(
            provider=Provider.OKTA,
            event_id=f"s{person}",
            time=datetime(2026, 2, 1, 9, person, tzinfo=UTC),
            kind=EventKind.PUSH_APPROVED,
            identity=f"p{person}@corp.example",
            ip=net_ip,
            geo=Geo(country="FR", asn=3215),
        )
        table.learn(success, person)
    return table


def test_decide_reads_the_organisation_table_from_its_store() -> None:
    req = laptop(ip="192.0.2.10", device_id=None, geo=HOME)
    org = OrgKnowledge(_table_with_office("192.0.2.77"))
    assert org_bits(req, org) & ORG_NET and org_bits(req, org) & ORG_ASN
    assert org_bits(req, None) == 0
    rule = 'operation == "push" && !org_network'
    policy = parse_policy(
        "version: t\nfallback: step_up\nrules:\n  - name: outside\n"
        f"    condition: '{rule}'\n    action: step_up\n    reason: {{code: c, message: m}}\n"
    )
    empty = IdentityProfile(identity=req.identity)
    assert decide(req, policy, lambda _: empty, load_org=lambda: org).decision is DecisionAction.ALLOW
    assert decide(req, policy, lambda _: empty).decision is DecisionAction.STEP_UP
    # the configured allow-list counts as the organisation's network too
    trusted = OrgKnowledge(trust=OrgTrust(networks=("192.0.2.0/24",)))
    assert decide(req, policy, lambda _: empty, load_org=lambda: trusted).decision is DecisionAction.ALLOW


def test_an_org_store_that_fails_gives_the_fallback() -> None:
    req = laptop()
    policy = load_policy()

    def broken() -> OrgKnowledge | None:
        raise OSError("disk gone")

    decision = decide(req, policy, lambda _: None, load_org=broken)
    assert decision.fallback and decision.decision is DecisionAction.STEP_UP


def test_evaluate_never_changes_the_profile() -> None:
    req = laptop()
    prof = build_profile(req.identity, req.time, {"history": True}, req)
    before = msgspec.msgpack.encode(prof)
    evaluate(req, prof, load_policy(), org=ORG_NET)
    assert msgspec.msgpack.encode(prof) == before


def _one_rule(condition: str) -> str:
    return (
        "version: t\nfallback: step_up\nrules:\n  - name: r\n"
        f"    condition: '{condition}'\n    action: step_up\n"
        "    reason: {code: c, message: '{context}'}\n"
    )


def test_the_linter_knows_the_new_signals_and_their_types() -> None:
    parse_policy(_one_rule('context_level == "unfamiliar" && !familiar_device && history_days > 3'))
    with pytest.raises(PolicyError, match="history_days"):
        parse_policy(_one_rule('history_days == "3"'))


def test_policy_signals_lists_every_variable_with_its_type() -> None:
    out = CliRunner().invoke(app, ["policy", "signals", "--format", "json"])
    assert out.exit_code == 0, out.output
    listed = {row["name"]: row["type"] for row in msgspec.json.decode(out.output)}
    assert listed == {name: kind for name, (kind, _) in VARIABLES.items()}
    assert listed["context_level"] == "string" and listed["history_days"] == "int"
    text = CliRunner().invoke(app, ["policy", "signals"], env={"COLUMNS": "200"})
    assert text.exit_code == 0 and "familiar_network" in text.output


def test_the_service_decides_with_the_organisations_networks(tmp_path: Path) -> None:
    with running(tmp_path, organisation={"trusted_networks": ["192.0.2.0/24"]}) as env:
        office = env.client.post(
            "/v1/decide", json={**DECIDE, "ip": "192.0.2.10"}, headers=env.headers("decide")
        )
        elsewhere = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide"))
    assert office.status_code == elsewhere.status_code == 200
    assert office.json()["signals"]["context_level"] == "familiar"
    assert elsewhere.json()["signals"]["context_level"] != "familiar"


def test_the_service_reads_the_stored_table_and_no_table_means_no_bits(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        assert env.service._decide_org() is None  # nothing learnt, nothing configured
        env.service._decide_org_cache = None
        table = _table_with_office("192.0.2.77")
        env.service.store.commit(Commit(states={ORG_STATE_KEY: msgspec.msgpack.encode(table)}))
        org = env.service._decide_org()
    assert org is not None and org.table.entries == table.entries
