"""Policies as code: a YAML file of CEL rules, compiled once at load and linted against the variables.

    version: "2026-03-01"        # reported in every Decision
    fallback: step_up            # REQUIRED: what decide answers when evaluation or the store fails
    default: allow               # when no rule matches (default: allow)
    report_only: false           # the whole policy in report-only mode (callers log, do not enforce)
    assurance:                   # required AAL per action; step_up and number_match are fixed
      deny: {aal: AAL2, phishing_resistant: true}
    rules:
      - name: under-bombing
        condition: prompts_last_10m >= 5 || "push_bombing" in open_detectors
        action: step_up
        reason: {code: push_bombing, message: "{prompts_last_10m} pushes in 10 minutes"}
        risk: 70                 # optional, 0..100
        aal: AAL3                # optional: raise the required AAL when this rule is enforced
        report_only: false       # optional: listed in matched_rules, never changes the decision
    tests: [...]                 # policy tests as data (see decide/testing.py)

Every problem names the file, the line, the rule and the position inside the condition."""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cel
import yaml

from pushguard.decide.check import check
from pushguard.decide.signals import VARIABLES
from pushguard.model import Aal, ConfigError, DecisionAction

DEFAULT_POLICY = "default_policy.yaml"
_TOP_KEYS = ("version", "fallback", "default", "report_only", "assurance", "rules", "tests", "description")
_RULE_KEYS = ("name", "condition", "action", "reason", "risk", "aal", "report_only", "description")
_FIXED_ASSURANCE = {
    DecisionAction.NUMBER_MATCH: (Aal.AAL2, False),
    DecisionAction.STEP_UP: (Aal.AAL2, True),
}
_DEFAULT_ASSURANCE = {
    DecisionAction.ALLOW: (Aal.AAL2, False),  # the push itself completes AAL2 with the password
    DecisionAction.NUMBER_MATCH: (Aal.AAL2, False),
    DecisionAction.THROTTLE: (Aal.AAL2, False),
    DecisionAction.STEP_UP: (Aal.AAL2, True),
    DecisionAction.DENY: (Aal.AAL2, True),  # no push; only a phishing-resistant path may still work
}
TYPES = {name: kind for name, (kind, _) in VARIABLES.items()}


@dataclass(frozen=True)
class Issue:
    file: str
    line: int  # 1-based line in the file; 0 when unknown
    column: int  # 1-based; 0 when unknown
    message: str
    rule: str | None = None
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        rule = f"rule '{self.rule}': " if self.rule else ""
        return f"{where}: {self.severity}: {rule}{self.message}"


class PolicyError(ConfigError):
    """A policy that cannot be used; ``issues`` lists every problem found (not only the first)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass(frozen=True)
class Rule:
    name: str
    condition: str
    program: cel.Program
    action: DecisionAction
    code: str
    message: str
    risk: int | None = None
    aal: Aal | None = None
    report_only: bool = False
    variables: tuple[str, ...] = ()  # the signals the condition reads
    message_fields: tuple[str, ...] = ()  # signals named by {placeholders} in the message


@dataclass(frozen=True)
class Policy:
    version: str
    fallback: DecisionAction
    rules: tuple[Rule, ...]
    source: str = "<policy>"
    default: DecisionAction = DecisionAction.ALLOW
    report_only: bool = False
    assurance: Mapping[DecisionAction, tuple[Aal, bool]] = field(
        default_factory=lambda: dict(_DEFAULT_ASSURANCE)
    )
    tests: tuple[Any, ...] = ()  # raw test cases (decide/testing.py reads them)
    variables: tuple[str, ...] = ()  # every signal any rule reads, in table order
    warnings: tuple[Issue, ...] = ()
    test_lines: tuple[int, ...] = ()  # YAML line of each test case


def _mark(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return 0, 0
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expression_position(node: yaml.Node | None, text: str, line: int, column: int) -> tuple[int, int]:
    """File line and column of (line, column) inside a condition scalar."""
    if not isinstance(node, yaml.ScalarNode):
        return 0, 0
    start_line, start_col = node.start_mark.line, node.start_mark.column
    if node.style in ("|", ">"):
        lines = text.splitlines()
        first = lines[start_line + 1] if start_line + 1 < len(lines) else ""
        indent = len(first) - len(first.lstrip(" "))  # the block's indentation, stripped from every line
        return start_line + line + 1, indent + column
    quoted = 1 if node.style in ('"', "'") else 0
    if line == 1:
        return start_line + 1, start_col + quoted + column
    return start_line + line, column  # a folded plain/quoted scalar: the line is approximate


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _action(
    value: Any, what: str, issues: list[Issue], file: str, node: yaml.Node | None, rule: str | None
) -> DecisionAction | None:
    try:
        return DecisionAction(str(value))
    except ValueError:
        line, col = _mark(node)
        choices = [a.value for a in DecisionAction]
        issues.append(
            Issue(
                file,
                line,
                col,
                f"{what}: {value!r} is not an action ({', '.join(choices)}){_suggest(str(value), choices)}",
                rule,
            )
        )
        return None


def parse_policy(text: str, file: str = "<policy>") -> Policy:
    """Parse, compile and lint a policy; raise PolicyError listing every error found."""
    issues: list[Issue] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([Issue(file, line, col, f"invalid YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise PolicyError([Issue(file, 1, 1, "a policy is a mapping with version, fallback and rules")])
    for key in data:
        if key not in _TOP_KEYS:
            line, col = _mark(_child(root, str(key)))
            issues.append(Issue(file, line, col, f"unknown key '{key}'{_suggest(str(key), list(_TOP_KEYS))}"))
    version = data.get("version")
    if version is None or str(version).strip() == "":
        issues.append(Issue(file, 1, 1, "missing 'version' (reported in every decision)"))
    fallback: DecisionAction | None = None
    if "fallback" not in data:
        issues.append(
            Issue(file, 1, 1, "missing 'fallback': what decide answers when evaluation or the store fails")
        )
    else:
        fallback = _action(data["fallback"], "fallback", issues, file, _child(root, "fallback"), None)
    default = DecisionAction.ALLOW
    if "default" in data:
        default = _action(data["default"], "default", issues, file, _child(root, "default"), None) or default
    report_only = data.get("report_only", False)
    if not isinstance(report_only, bool):
        line, col = _mark(_child(root, "report_only"))
        issues.append(Issue(file, line, col, "report_only must be true or false"))
        report_only = False
    assurance = _assurance(data.get("assurance"), _child(root, "assurance"), issues, file)
    rules_data = data.get("rules")
    rules: list[Rule] = []
    if not isinstance(rules_data, list) or not rules_data:
        line, col = _mark(_child(root, "rules"))
        issues.append(Issue(file, line or 1, col or 1, "'rules' must be a non-empty list"))
        rules_data = []
    seen: set[str] = set()
    warnings: list[Issue] = []
    rule_nodes = _items(_child(root, "rules"))
    for index, raw in enumerate(rules_data):
        node = rule_nodes[index] if index < len(rule_nodes) else None
        rule = _rule(raw, node, index, text, file, issues)
        if rule is None:
            continue
        if rule.name in seen:
            line, col = _mark(_child(node, "name"))
            issues.append(Issue(file, line, col, "duplicate rule name", rule.name))
        seen.add(rule.name)
        rules.append(rule)
    if fallback is DecisionAction.ALLOW:
        line, col = _mark(_child(root, "fallback"))
        warnings.append(
            Issue(
                file,
                line,
                col,
                "fallback allow: a failing store or rule lets every push through",
                None,
                "warning",
            )
        )
    tests = data.get("tests") or []
    if not isinstance(tests, list):
        line, col = _mark(_child(root, "tests"))
        issues.append(Issue(file, line, col, "'tests' must be a list of test cases"))
        tests = []
    if issues:
        raise PolicyError(issues)
    assert fallback is not None
    used = {name for rule in rules for name in (*rule.variables, *rule.message_fields)}
    return Policy(
        version=str(version),
        fallback=fallback,
        rules=tuple(rules),
        source=file,
        default=default,
        report_only=report_only,
        assurance=assurance,
        tests=tuple(tests),
        variables=tuple(name for name in VARIABLES if name in used),
        warnings=tuple(warnings),
        test_lines=tuple(_mark(n)[0] for n in _items(_child(root, "tests"))),
    )


def _assurance(
    raw: Any, node: yaml.Node | None, issues: list[Issue], file: str
) -> dict[DecisionAction, tuple[Aal, bool]]:
    table = dict(_DEFAULT_ASSURANCE)
    if raw is None:
        return table
    if not isinstance(raw, dict):
        line, col = _mark(node)
        issues.append(Issue(file, line, col, "'assurance' maps an action to {aal, phishing_resistant}"))
        return table
    for key, value in raw.items():
        line, col = _mark(_child(node, str(key)))
        action = _action(key, "assurance", issues, file, _child(node, str(key)), None)
        if action is None:
            continue
        if action in _FIXED_ASSURANCE:
            aal, resistant = _FIXED_ASSURANCE[action]
            issues.append(
                Issue(
                    file,
                    line,
                    col,
                    f"assurance of {action.value} is fixed ({aal.value}, phishing_resistant "
                    f"{str(resistant).lower()})",
                )
            )
            continue
        if not isinstance(value, dict) or set(value) - {"aal", "phishing_resistant"}:
            issues.append(
                Issue(file, line, col, f"assurance.{action.value}: expected {{aal, phishing_resistant}}")
            )
            continue
        try:
            aal = Aal(str(value.get("aal", table[action][0].value)))
        except ValueError:
            issues.append(Issue(file, line, col, f"assurance.{action.value}: aal is AAL1, AAL2 or AAL3"))
            continue
        resistant = value.get("phishing_resistant", table[action][1])
        if not isinstance(resistant, bool):
            issues.append(
                Issue(file, line, col, f"assurance.{action.value}: phishing_resistant is true/false")
            )
            continue
        table[action] = (aal, resistant)
    return table


def _rule(
    raw: Any, node: yaml.Node | None, index: int, text: str, file: str, issues: list[Issue]
) -> Rule | None:
    line, col = _mark(node)
    if not isinstance(raw, dict):
        issues.append(Issue(file, line, col, f"rule #{index + 1} must be a mapping"))
        return None
    name = str(raw.get("name") or f"#{index + 1}")
    count = len(issues)
    for key in raw:
        if key not in _RULE_KEYS:
            kline, kcol = _mark(_child(node, str(key)))
            issues.append(
                Issue(file, kline, kcol, f"unknown key '{key}'{_suggest(str(key), list(_RULE_KEYS))}", name)
            )
    if "name" not in raw:
        issues.append(Issue(file, line, col, "missing 'name'", name))
    action = None
    if "action" not in raw:
        issues.append(Issue(file, line, col, "missing 'action'", name))
    else:
        action = _action(raw["action"], "action", issues, file, _child(node, "action"), name)
    reason = raw.get("reason")
    code, message = "", ""
    if not isinstance(reason, dict) or not isinstance(reason.get("code"), str) or not reason.get("code"):
        rline, rcol = _mark(_child(node, "reason") or node)
        issues.append(Issue(file, rline, rcol, "'reason' must be {code: ..., message: ...}", name))
    else:
        code = reason["code"]
        message = str(reason.get("message") or code)
    message_fields = _message_fields(message, node, file, name, issues)
    risk = raw.get("risk")
    if risk is not None and (isinstance(risk, bool) or not isinstance(risk, int) or not 0 <= risk <= 100):
        rline, rcol = _mark(_child(node, "risk"))
        issues.append(Issue(file, rline, rcol, "risk must be an integer 0..100", name))
    aal = None
    if raw.get("aal") is not None:
        try:
            aal = Aal(str(raw["aal"]))
        except ValueError:
            rline, rcol = _mark(_child(node, "aal"))
            issues.append(Issue(file, rline, rcol, "aal is AAL1, AAL2 or AAL3", name))
    report_only = raw.get("report_only", False)
    if not isinstance(report_only, bool):
        rline, rcol = _mark(_child(node, "report_only"))
        issues.append(Issue(file, rline, rcol, "report_only must be true or false", name))
    condition = raw.get("condition")
    cond_node = _child(node, "condition")
    program = None
    variables: tuple[str, ...] = ()
    if not isinstance(condition, str) or not condition.strip():
        issues.append(Issue(file, line, col, "missing 'condition' (a CEL expression)", name))
    else:
        program, variables = _compile(condition, cond_node, text, file, name, issues)
    if len(issues) > count or program is None or action is None or not isinstance(condition, str):
        return None
    return Rule(
        name=name,
        condition=condition,
        program=program,
        action=action,
        code=code,
        message=message,
        risk=risk,
        aal=aal,
        report_only=bool(report_only),
        variables=variables,
        message_fields=message_fields,
    )


def _message_fields(
    message: str, node: yaml.Node | None, file: str, rule: str, issues: list[Issue]
) -> tuple[str, ...]:
    fields: list[str] = []
    try:
        parsed = list(string.Formatter().parse(message))
    except ValueError as exc:
        line, col = _mark(_child(_child(node, "reason"), "message"))
        issues.append(Issue(file, line, col, f"reason message: {exc}", rule))
        return ()
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if name not in VARIABLES:
            line, col = _mark(_child(_child(node, "reason"), "message"))
            issues.append(
                Issue(
                    file,
                    line,
                    col,
                    f"reason message: unknown variable '{{{name}}}'{_suggest(name, list(VARIABLES))}",
                    rule,
                )
            )
        else:
            fields.append(name)
    return tuple(dict.fromkeys(fields))


def _compile(
    condition: str, node: yaml.Node | None, text: str, file: str, rule: str, issues: list[Issue]
) -> tuple[cel.Program | None, tuple[str, ...]]:
    try:
        program = cel.compile(condition)
    except ValueError as exc:
        line, col = _syntax_position(str(exc))
        fline, fcol = _expression_position(node, text, line, col)
        detail = str(exc).split(": ERROR: ", 1)[-1]
        issues.append(Issue(file, fline, fcol, f"condition does not parse: {detail}", rule))
        return None, ()
    problems = check(condition, TYPES, program.variables())
    for problem in problems:
        fline, fcol = _expression_position(node, text, problem.line, problem.column)
        excerpt = _excerpt(condition, problem.line, problem.column)
        issues.append(
            Issue(
                file,
                fline,
                fcol,
                f"condition {problem.line}:{problem.column}: {problem.message}\n{excerpt}",
                rule,
            )
        )
    used = set(program.variables())
    return program, tuple(name for name in VARIABLES if name in used)


def _syntax_position(message: str) -> tuple[int, int]:
    """The library reports syntax errors as ``<input>:LINE:COL`` (both 1-based)."""
    marker = "<input>:"
    at = message.find(marker)
    if at < 0:
        return 1, 1
    parts = message[at + len(marker) :].split(":", 2)
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return 1, 1


def _excerpt(source: str, line: int, column: int) -> str:
    lines = source.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    return f"    | {text}\n    | {' ' * (column - 1)}^"


def load_policy(path: str | Path | None = None) -> Policy:
    """A policy file, or the bundled default policy when ``path`` is None."""
    if path is None:
        text = resources.files("pushguard.decide").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return parse_policy(text, f"<bundled {DEFAULT_POLICY}>")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([Issue(str(file), 0, 0, f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise PolicyError([Issue(str(file), 0, 0, why)]) from None
    return parse_policy(text, str(file))


def lint(text: str, file: str = "<policy>") -> list[Issue]:
    """Every error and warning of a policy, without raising."""
    try:
        policy = parse_policy(text, file)
    except PolicyError as exc:
        return exc.issues
    return list(policy.warnings)
