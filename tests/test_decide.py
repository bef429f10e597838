"""The decision point: signals, the default policy rule by rule, strictest-wins, report-only, fail modes,
the linter, policy tests as data, and the CLI (policy lint/test, decide)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import typer
from typer.testing import CliRunner

from pushguard.cli import policy as policy_cli
from pushguard.decide import (
    VARIABLES,
    PolicyError,
    compute_signals,
    decide,
    evaluate,
    lint,
    load_policy,
    parse_policy,
    run_tests,
)
from pushguard.decide.check import check
from pushguard.decide.signals import NEVER_MINUTES
from pushguard.decide.testing import build_profile
from pushguard.flow import Flow
from pushguard.model import (
    Aal,
    DecisionAction,
    DecisionRequest,
    EventKind,
    Factor,
    Geo,
    IdentityProfile,
    UserKind,
)
from pushguard.store import SqliteStore
from tests.events import T0, ev

POLICIES = Path(__file__).parent / "fixtures" / "policies"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEFAULT = load_policy()
runner = CliRunner()


def request(**fields: Any) -> DecisionRequest:
    data: dict[str, Any] = {"operation": "push", "identity": "alice@corp.example", "time": NOW}
    data.update(fields)
    return msgspec.convert(data, DecisionRequest)


def profile(facts: dict[str, Any] | None = None, time: datetime = NOW) -> IdentityProfile:
    return build_profile("alice@corp.example", time, facts)


def policy_text(rules: str, header: str = "version: t1\nfallback: step_up\n") -> str:
    return header + "rules:\n" + rules


# -- the model -------------------------------------------------------------------------------------


def test_action_strength_order() -> None:
    order = [DecisionAction(a) for a in ("allow", "number_match", "throttle", "step_up", "deny")]
    assert [a.rank for a in order] == [0, 1, 2, 3, 4]


def test_request_needs_a_time_zone() -> None:
    with pytest.raises(msgspec.ValidationError, match="time zone"):
        msgspec.json.decode(
            b'{"operation":"push","identity":"a","time":"2026-03-02T09:00:00"}', type=DecisionRequest
        )


# -- signals ---------------------------------------------------------------------------------------


def test_signals_match_the_variable_table() -> None:
    signals = compute_signals(request(geo=Geo(country="FR", asn=3215)), profile({"history": True}))
    assert set(signals) == set(VARIABLES)
    python_type = {"bool": bool, "int": int, "double": float, "string": str, "list(string)": list}
    for name, (kind, description) in VARIABLES.items():
        assert description
        value = signals[name]
        assert type(value) is python_type[kind], (name, value)


def test_signal_windows_end_at_the_request_time_and_ignore_the_future() -> None:
    facts = {"history": True, "prompts": [30, 300, 900, 4000], "denials": [60, 7200], "resets": ["2h"]}
    signals = compute_signals(request(), profile(facts))
    assert signals["prompts_last_10m"] == 2
    assert signals["prompts_last_hour"] == 3
    assert signals["prompts_since_success"] == 4
    assert signals["denials_last_hour"] == 1
    assert signals["denials_last_day"] == 2
    assert signals["minutes_since_last_reset"] == 120
    assert signals["minutes_since_last_enrollment"] == NEVER_MINUTES
    # the same profile seen from an hour earlier: later entries do not exist yet
    earlier = compute_signals(request(time=NOW - timedelta(hours=1)), profile(facts))
    assert earlier["prompts_last_10m"] == 1  # the one 4000 s before NOW is 400 s before this request
    assert earlier["prompts_last_hour"] == 1
    assert earlier["minutes_since_last_reset"] == 60


def test_new_places_mean_something_only_with_history() -> None:
    req = request(geo=Geo(country="BR", asn=28573), ip="203.0.113.9", device_id="d9")
    fresh = compute_signals(req, profile())
    assert not any(fresh[k] for k in ("new_country", "new_asn", "new_ip", "new_device"))
    known = compute_signals(req, profile({"history": True, "countries": ["FR"], "asns": ["3215"]}))
    assert all(known[k] for k in ("new_country", "new_asn", "new_ip", "new_device"))
    home = compute_signals(req, profile({"history": True, "countries": ["BR"], "devices": ["d9"]}))
    assert not home["new_country"]
    assert not home["new_device"]


def test_open_findings_are_those_reported_before_the_request() -> None:
    facts = {"open_findings": {"push_bombing": {"severity": "high", "ago": "2h"}}}
    signals = compute_signals(request(), profile(facts))
    assert signals["open_detectors"] == ["push_bombing"]
    assert signals["open_finding_max_severity"] == 3
    before = compute_signals(request(time=NOW - timedelta(hours=3)), profile(facts))
    assert before["open_detectors"] == []
    assert before["open_finding_max_severity"] == 0
    stale = compute_signals(request(time=NOW + timedelta(days=2)), profile(facts))
    assert stale["open_findings"] == 0


def test_nhi_from_the_request_or_an_earlier_finding() -> None:
    assert compute_signals(request(user_kind=UserKind.NHI), profile())["is_nhi"] is True
    flagged = profile({"open_findings": {"nhi_interactive_mfa": {"severity": "high", "ago": "30d"}}})
    assert compute_signals(request(), flagged)["is_nhi"] is True
    assert compute_signals(request(), profile())["is_nhi"] is False


def test_factor_classes() -> None:
    assert compute_signals(request(factor=Factor.WEBAUTHN), profile())["factor_phishing_resistant"] is True
    push = compute_signals(request(factor=Factor.DUO_PUSH), profile())
    assert push["factor_is_push"] is True
    assert push["factor_phishing_resistant"] is False


# -- the default policy, rule by rule ---------------------------------------------------------------

HOME = {"history": True, "countries": ["FR"], "asns": ["3215"], "devices": ["d1"], "ips": ["198.51.100.7"]}
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # rule: (positive request, positive profile facts, negative request, negative profile facts)
    "nhi-no-push": ({"user_kind": "nhi"}, {}, {"user_kind": "human"}, {}),
    "number-match-every-push": ({}, HOME, {"operation": "enroll"}, HOME),
    "privileged-app-step-up": ({"app_sensitivity": "privileged"}, HOME, {"app_sensitivity": "high"}, HOME),
    "unfamiliar-context": (
        {"ip": "203.0.113.9", "device_id": "d2", "geo": {"country": "FR", "asn": 64500}},
        HOME,
        {"ip": "203.0.113.9", "device_id": "d1", "geo": {"country": "FR", "asn": 64500}},
        HOME,
    ),
    "hostile-context": (
        {"ip": "203.0.113.9", "geo": {"country": "FR", "asn": 14061, "is_hosting": True}},
        HOME,
        {"ip": "203.0.113.9", "geo": {"country": "FR", "asn": 14061, "is_hosting": True}},
        {**HOME, "org": ["asn"]},  # the company VPN's cloud: colleagues use it
    ),
    "burst-outside-own-context": (
        {},  # nothing known of the requester
        {**HOME, "prompts": {"count": 5, "over": "9m"}},
        {"ip": "198.51.100.7", "device_id": "d1"},  # the person's own laptop at home
        {**HOME, "prompts": {"count": 5, "over": "9m"}},
    ),
    "after-fraud-report": (
        {},
        {**HOME, "open_findings": {"fraud_report": {"severity": "high", "ago": "3d"}}},
        {"ip": "198.51.100.7"},
        {**HOME, "open_findings": {"fraud_report": {"severity": "high", "ago": "3d"}}},
    ),
    "push-budget-spent": (
        {},
        {**HOME, "prompts": {"count": 10, "over": "8h"}},
        {},
        {**HOME, "prompts": {"count": 10, "over": "8h"}, "successes": ["5m"]},
    ),
    "enroll-after-denials": (
        {"operation": "enroll"},
        {**HOME, "denials": ["1h", "2h"]},
        {"operation": "enroll"},
        {**HOME, "denials": ["1h", "25h"]},
    ),
    "enroll-after-reset": (
        {"operation": "enroll", "ip": "198.51.100.7"},
        {**HOME, "resets": ["6d"]},
        {"operation": "enroll", "ip": "198.51.100.7"},
        {**HOME, "resets": ["8d"]},
    ),
    "enroll-from-unfamiliar-context": (
        {"operation": "enroll", "ip": "203.0.113.9", "device_id": "d2", "geo": {"country": "NG"}},
        HOME,
        {"operation": "enroll", "ip": "198.51.100.7", "geo": {"country": "FR"}},
        HOME,
    ),
    "new-hosting-network": (
        {"device_id": "d1", "geo": {"country": "FR", "asn": 14061, "is_hosting": True}},
        HOME,
        {"device_id": "d1", "geo": {"country": "FR", "asn": 14061, "is_hosting": False}},
        HOME,
    ),
}


def test_every_default_rule_has_a_case_here() -> None:
    assert {r.name for r in DEFAULT.rules} == set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_default_rule_positive_and_negative(rule: str) -> None:
    pos_req, pos_facts, neg_req, neg_facts = CASES[rule]
    positive = evaluate(request(**pos_req), profile(pos_facts), DEFAULT)
    negative = evaluate(request(**neg_req), profile(neg_facts), DEFAULT)
    assert rule in {m.name for m in positive.matched_rules}
    assert rule not in {m.name for m in negative.matched_rules}
    wanted = next(r for r in DEFAULT.rules if r.name == rule)
    if not wanted.report_only:
        assert positive.decision.rank >= wanted.action.rank
        assert wanted.code in {r.code for r in positive.reasons}


def test_an_attacked_identity_is_stepped_up_never_denied() -> None:
    facts = {
        **HOME,
        "prompts": {"count": 30, "over": "10m"},
        "denials": {"count": 20, "over": "10m"},
        "open_findings": {
            "push_bombing": {"severity": "critical", "ago": "1m"},
            "fraud_report": {"severity": "high", "ago": "2m"},
        },
    }
    decision = evaluate(request(geo={"country": "BR"}), profile(facts), DEFAULT)
    assert decision.decision is DecisionAction.STEP_UP
    assert decision.required_aal is Aal.AAL2
    assert decision.phishing_resistant is True
    assert decision.risk >= 75


def test_default_policy_own_tests_pass_and_cover_every_rule() -> None:
    report = run_tests(DEFAULT)
    assert report.passed, [(c.name, c.problems) for c in report.cases if not c.passed]
    assert report.uncovered == []
    assert len(report.cases) >= len(DEFAULT.rules)


def test_decision_explains_itself() -> None:
    decision = evaluate(request(app="aws", app_sensitivity="privileged"), profile(HOME), DEFAULT)
    assert decision.decision is DecisionAction.STEP_UP
    assert decision.reasons[0].code == "privileged_app"
    assert "'aws'" in decision.reasons[0].message  # {app} filled from the signals
    assert decision.evaluated_at == "2026-03-02T09:00:00Z"
    assert decision.policy_version == DEFAULT.version
    assert set(decision.signals) == set(DEFAULT.variables)
    assert decision.signals["app_sensitivity"] == "privileged"
    encoded = json.loads(msgspec.json.encode(decision))
    assert {"decision", "risk", "reasons", "required_aal", "phishing_resistant", "matched_rules"} <= set(
        encoded
    )


# -- strictest wins, report-only, assurance --------------------------------------------------------

STRICT = policy_text(
    """  - {name: a, condition: 'true', action: number_match, reason: {code: a}, risk: 10}
  - {name: b, condition: 'prompts_last_10m >= 1', action: throttle, reason: {code: b}, risk: 30}
  - {name: c, condition: 'prompts_last_10m >= 1', action: deny, reason: {code: c}, report_only: true,
     risk: 99}
  - {name: d, condition: 'prompts_last_10m >= 2', action: step_up, reason: {code: d}, aal: AAL3}
  - {name: e, condition: 'false', action: deny, reason: {code: e}}
"""
)


def test_strictest_enforced_match_wins() -> None:
    policy = parse_policy(STRICT)
    one = evaluate(request(), profile({"prompts": [10]}), policy)
    assert one.decision is DecisionAction.THROTTLE
    assert [r.code for r in one.reasons] == ["b", "a"]  # strongest first
    two = evaluate(request(), profile({"prompts": [10, 20]}), policy)
    assert two.decision is DecisionAction.STEP_UP
    assert two.required_aal is Aal.AAL3
    assert two.phishing_resistant is True
    none = evaluate(request(), profile(), policy)
    assert none.decision is DecisionAction.NUMBER_MATCH
    assert none.risk == 10


def test_report_only_rules_are_listed_but_not_enforced() -> None:
    policy = parse_policy(STRICT)
    decision = evaluate(request(), profile({"prompts": [10]}), policy)
    listed = {m.name: m for m in decision.matched_rules}
    assert listed["c"].report_only is True
    assert listed["c"].action is DecisionAction.DENY
    assert decision.decision is not DecisionAction.DENY
    assert "c" not in {r.code for r in decision.reasons}
    assert decision.risk == 30  # the report-only rule's risk does not count


def test_report_only_policy_is_flagged_on_the_decision() -> None:
    policy = parse_policy(STRICT.replace("fallback: step_up\n", "fallback: step_up\nreport_only: true\n"))
    decision = evaluate(request(), profile(), policy)
    assert decision.report_only is True
    assert not DEFAULT.report_only


def test_nothing_matched_gives_the_default_with_a_reason() -> None:
    policy = parse_policy(policy_text("  - {name: x, condition: is_nhi, action: deny, reason: {code: x}}\n"))
    decision = evaluate(request(), profile(), policy)
    assert decision.decision is DecisionAction.ALLOW
    assert decision.reasons[0].code == "no_rule_matched"
    assert decision.required_aal is Aal.AAL2
    assert decision.phishing_resistant is False


def test_assurance_follows_the_action() -> None:
    number = evaluate(request(), profile(HOME), DEFAULT)
    assert (number.decision, number.required_aal, number.phishing_resistant) == (
        DecisionAction.NUMBER_MATCH,
        Aal.AAL2,
        False,
    )
    deny = evaluate(request(user_kind="nhi"), profile(), DEFAULT)
    assert (deny.decision, deny.phishing_resistant) == (DecisionAction.DENY, True)


# -- fail modes ------------------------------------------------------------------------------------

FAILING = policy_text(
    """  - {name: ok, condition: 'operation == "push"', action: number_match, reason: {code: ok}}
  - {name: boom, condition: '100 / prompts_last_10m > 3', action: deny, reason: {code: boom}}
"""
)


def test_a_rule_failing_at_run_time_gives_the_fallback() -> None:
    policy = parse_policy(FAILING)  # lint cannot know prompts_last_10m will be 0
    decision = evaluate(request(), profile(), policy)
    assert decision.decision is DecisionAction.STEP_UP
    assert decision.fallback is True
    assert decision.reasons[0].code == "rule_error"
    assert "boom" in decision.reasons[0].message
    assert "division by zero" in decision.reasons[0].message
    assert decision.risk >= 50
    # the same rule evaluating fine: no fallback
    fine = evaluate(request(), profile({"prompts": [10]}), policy)
    assert fine.decision is DecisionAction.DENY
    assert fine.fallback is False


def test_fallback_is_a_setting_and_never_weakens_a_stricter_match() -> None:
    policy = parse_policy(FAILING)
    overridden = evaluate(request(), profile(), policy, fallback=DecisionAction.DENY)
    assert overridden.decision is DecisionAction.DENY
    strict = parse_policy(FAILING + "  - {name: nhi, condition: is_nhi, action: deny, reason: {code: nhi}}\n")
    assert evaluate(request(user_kind="nhi"), profile(), strict).decision is DecisionAction.DENY


def test_a_failing_report_only_rule_does_not_trigger_the_fallback() -> None:
    policy = parse_policy(FAILING.replace("action: deny,", "action: deny, report_only: true,"))
    decision = evaluate(request(), profile(), policy)
    assert decision.decision is DecisionAction.NUMBER_MATCH
    assert decision.fallback is False
    assert "rule_error_report_only" in {r.code for r in decision.reasons}


def test_a_failing_store_gives_the_fallback_not_allow() -> None:
    def broken(identity: str) -> IdentityProfile:
        raise OSError("database is locked")

    decision = decide(request(), DEFAULT, broken)
    assert decision.decision is DecisionAction.STEP_UP
    assert decision.fallback is True
    assert decision.reasons[0].code == "store_error"
    assert "database is locked" in decision.reasons[0].message
    # request-only rules still apply without state
    assert decide(request(user_kind="nhi"), DEFAULT, broken).decision is DecisionAction.DENY
    # the fallback is a floor: number_match matched, throttle is stricter
    assert (
        decide(request(), DEFAULT, broken, fallback=DecisionAction.THROTTLE).decision
        is DecisionAction.THROTTLE
    )


def test_decide_with_a_healthy_store() -> None:
    decision = decide(request(), DEFAULT, lambda identity: profile(HOME))
    assert decision.decision is DecisionAction.NUMBER_MATCH
    assert decision.fallback is False
    assert decide(request(), DEFAULT, lambda identity: None).decision is DecisionAction.NUMBER_MATCH


def test_the_policy_fallback_is_required() -> None:
    with pytest.raises(PolicyError, match="missing 'fallback'"):
        parse_policy(
            "version: 1\nrules:\n  - {name: a, condition: 'true', action: allow, reason: {code: a}}\n"
        )
    allow = parse_policy(
        policy_text(
            "  - {name: a, condition: 'true', action: allow, reason: {code: a}}\n",
            "version: 1\nfallback: allow\n",
        )
    )
    assert any("fallback allow" in w.message for w in allow.warnings)


# -- lint ------------------------------------------------------------------------------------------


def test_lint_unknown_variable_with_suggestion_and_position() -> None:
    issues = lint((POLICIES / "typo.yaml").read_text(), "typo.yaml")
    assert len(issues) == 1
    issue = issues[0]
    assert issue.rule == "bombing"
    assert "unknown variable 'prompt_last_10m'; did you mean 'prompts_last_10m'?" in issue.message
    text = (POLICIES / "typo.yaml").read_text().splitlines()
    assert text[issue.line - 1][issue.column - 1 :].startswith("prompt_last_10m")
    assert str(issue).startswith(f"typo.yaml:{issue.line}:{issue.column}: error: rule 'bombing': ")


def test_lint_type_errors() -> None:
    issues = lint((POLICIES / "types.yaml").read_text(), "types.yaml")
    by_rule = {i.rule: i for i in issues}
    assert "comparing bool with int" in by_rule["bool-vs-int"].message
    assert "cannot order string and int" in by_rule["string-order"].message
    assert "does not mix int and double" in by_rule["mixed-arithmetic"].message
    assert "must be a bool, this one is int" in by_rule["not-a-bool"].message
    assert "never true" in by_rule["wrong-list-element"].message
    lines = (POLICIES / "types.yaml").read_text().splitlines()
    block = by_rule["bool-vs-int"]  # a block scalar: the position is still the file's
    assert lines[block.line - 1][block.column - 1 :].startswith("== 1")


def test_lint_bad_rules() -> None:
    issues = lint((POLICIES / "bad_rules.yaml").read_text(), "bad_rules.yaml")
    messages = [str(i) for i in issues]
    assert any("'stepup' is not an action" in m and "did you mean 'step_up'" in m for m in messages)
    assert any("rule 'no-reason'" in m and "'reason' must be" in m for m in messages)
    assert any("unknown key 'conditon'" in m and "did you mean 'condition'" in m for m in messages)
    assert any("rule 'syntax'" in m and "does not parse" in m for m in messages)
    assert any("unknown variable '{nope}'" in m for m in messages)
    assert any("duplicate rule name" in m for m in messages)
    assert all(i.line > 0 for i in issues)
    syntax = next(i for i in issues if i.rule == "syntax" and "does not parse" in i.message)
    line = (POLICIES / "bad_rules.yaml").read_text().splitlines()[syntax.line - 1]
    assert line[syntax.column - 1 :].startswith("&& true")


def test_lint_bad_yaml_has_a_position() -> None:
    issues = lint("version: 1\nfallback: step_up\nrules:\n  - name: [unclosed\n", "x.yaml")
    assert issues[0].line >= 4
    assert "invalid YAML" in issues[0].message


def test_checker_accepts_the_constructs_rules_use() -> None:
    types = {name: kind for name, (kind, _) in VARIABLES.items()}
    for source in (
        'open_detectors.exists(d, d.startsWith("push_")) && size(open_detectors) > 0',
        'asn in [3215, 16509] && country in ["FR", "DE"] && !(is_nhi || hosting_asn)',
        'operation == "enroll" ? minutes_since_last_reset < 60 : prompts_last_10m > 2',
        "double(prompts_last_hour) / 60.0 > 0.5 && minutes_since_last_success < 30.0",
        'factor.matches("^okta_") || app.contains("admin") || app.endsWith("-prod")',
    ):
        assert check(source, types) == [], source


# -- policy tests as data --------------------------------------------------------------------------


def test_policy_test_runner_reports_failures_and_uncovered_rules() -> None:
    report = run_tests(load_policy(POLICIES / "failing_tests.yaml"))
    assert not report.passed
    outcome = {c.name: c for c in report.cases}
    assert outcome["right"].passed
    assert outcome["wrong decision"].problems == ["decision: expected deny, got step_up"]
    assert any("matched rules" in p for p in outcome["wrong rules"].problems)
    assert outcome["malformed"].problems[0].startswith("invalid test case: profile: unknown fact(s) promptz")
    assert report.uncovered == ["never-tested"]
    assert all(c.line > 0 for c in report.cases)


# -- CLI -------------------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """pushguard (test app: only the policy commands)."""

    policy_cli.register(app)
    return app


def test_cli_policy_lint() -> None:
    ok = runner.invoke(cli(), ["policy", "lint", str(POLICIES / "good.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "ok: 2 rules" in ok.output
    bad = runner.invoke(cli(), ["policy", "lint", str(POLICIES / "typo.yaml")])
    assert bad.exit_code == 1
    assert "did you mean 'prompts_last_10m'" in bad.output
    missing = runner.invoke(cli(), ["policy", "lint", str(POLICIES / "nope.yaml")])
    assert missing.exit_code == 2


def test_cli_policy_test() -> None:
    ok = runner.invoke(cli(), ["policy", "test", str(POLICIES / "good.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "2 passed, 0 failed" in ok.output
    bad = runner.invoke(cli(), ["policy", "test", str(POLICIES / "failing_tests.yaml")])
    assert bad.exit_code == 1
    assert "FAIL" in bad.output
    assert "rule 'never-tested' is matched by no test case" in bad.output


def test_cli_decide_text_and_json() -> None:
    body = json.dumps(
        {
            "operation": "push",
            "identity": "bob@corp.example",
            "time": "2026-03-02T09:00:00Z",
            "app": "aws",
            "app_sensitivity": "privileged",
            "factor": "okta_verify_push",
        }
    )
    text = runner.invoke(cli(), ["decide", "--request", body])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("step_up")
    assert "privileged_app" in text.output
    assert "AAL2, phishing-resistant" in text.output
    out = runner.invoke(
        cli(), ["decide", "--request", body, "--format", "json", "--policy", str(POLICIES / "good.yaml")]
    )
    assert out.exit_code == 0, out.output
    decoded = json.loads(out.output)
    assert decoded["decision"] == "number_match"
    assert decoded["policy_version"] == "good-1"
    bad = runner.invoke(cli(), ["decide", "--request", '{"operation": "push"}'])
    assert bad.exit_code == 2
    assert "invalid request" in bad.output


def test_cli_decide_reads_the_identity_state(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    store = SqliteStore(state)
    engine = Flow().engine(store)
    events = [ev(EventKind.PUSH_APPROVED, 0)]
    for n in range(8):  # a burst of pushes, denied
        events.append(ev(EventKind.PUSH_SENT, 3600 + 20 * n, ip="203.0.113.50"))
        events.append(ev(EventKind.PUSH_DENIED, 3600 + 20 * n + 5, ip="203.0.113.50"))
    for event in events:
        engine.process(event)
    engine.finish()
    store.close()
    when = (T0 + timedelta(seconds=3600 + 200)).isoformat()
    body = json.dumps({"operation": "push", "identity": "alice@corp.example", "time": when})
    result = runner.invoke(cli(), ["decide", "--request", body, "--state", str(state), "--format", "json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["decision"] == "step_up"
    assert decision["fallback"] is False
    assert "burst-outside-own-context" in {m["name"] for m in decision["matched_rules"]}
    assert decision["signals"]["prompts_last_10m"] == 8
    # a state file that cannot be read: the fallback, with the reason
    broken = tmp_path / "broken.db"
    broken.write_text("not sqlite")
    failed = runner.invoke(cli(), ["decide", "--request", body, "--state", str(broken), "--format", "json"])
    assert failed.exit_code == 0, failed.output
    answer = json.loads(failed.output)
    assert answer["fallback"] is True
    assert answer["reasons"][0]["code"] == "store_error"
