"""A static checker for rule conditions: unknown variables (with "did you mean") and type errors, with
positions.

The CEL library (common-expression-language 0.10) parses and reports syntax errors with a line and
column, but it does not type-check: an unknown variable fails only when evaluation reaches it (and never
when ``&&``/``||`` short-circuit past it), ``int > string`` fails at run time, and ``bool == int`` or
``string == int`` are silently false. This module re-parses the expression (a small Pratt parser of the
CEL grammar) and infers types against ``signals.VARIABLES`` so such rules are lint errors at load time.
Syntax itself stays the library's call: ``check`` runs after ``cel.compile`` succeeded."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

DYN = "dyn"
NUMERIC = frozenset({"int", "uint", "double"})
_MACROS_BOOL = frozenset({"exists", "all", "exists_one"})
_MACROS_LIST = frozenset({"map", "filter"})
_STRING_METHODS = {"startsWith": "bool", "endsWith": "bool", "contains": "bool", "matches": "bool"}
_GLOBALS = {
    "size": "int",
    "int": "int",
    "uint": "uint",
    "double": "double",
    "string": "string",
    "bytes": "bytes",
    "bool": "bool",
    "type": DYN,
    "dyn": DYN,
    "duration": DYN,
    "timestamp": DYN,
    "matches": "bool",
    "has": "bool",
}


@dataclass(frozen=True)
class Problem:
    offset: int  # 0-based character offset in the expression
    line: int  # 1-based, within the expression
    column: int  # 1-based
    message: str


@dataclass(frozen=True)
class _Token:
    kind: str  # ident | int | uint | double | string | bytes | op | end
    text: str
    offset: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<double>(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<uint>(?:0x[0-9a-fA-F]+|\d+)[uU])
  | (?P<int>0x[0-9a-fA-F]+|\d+)
  | (?P<string>[rR]?[bB]?[rR]?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
    """,
    re.VERBOSE,
)


class _UnsupportedError(Exception):
    """A construct this checker does not parse (the library accepted it): skip the type check."""


def _tokens(source: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise _UnsupportedError(f"unexpected character {source[pos]!r}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "space":
            if kind == "string" and text[:2].lower() in ("b'", 'b"', "rb", "br"):
                kind = "bytes"
            found.append(_Token(kind, text, pos))
        pos = match.end()
    found.append(_Token("end", "", len(source)))
    return found


def _element(list_type: str) -> str:
    if list_type.startswith("list(") and list_type.endswith(")"):
        return list_type[5:-1]
    return DYN


def _compatible(a: str, b: str) -> bool:
    if DYN in (a, b) or "null" in (a, b) or a == b:
        return True
    if a in NUMERIC and b in NUMERIC:
        return True
    return a.startswith("list") and b.startswith("list")


class _Checker:
    def __init__(self, source: str, variables: dict[str, str]) -> None:
        self.source = source
        self.variables = variables
        self.tokens = _tokens(source)
        self.index = 0
        self.scopes: list[dict[str, str]] = []
        self.problems: list[Problem] = []

    # -- plumbing ------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token.kind == "op" and token.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise _UnsupportedError(f"expected {text!r}")

    def problem(self, offset: int, message: str) -> None:
        before = self.source[:offset]
        line = before.count("\n") + 1
        column = offset - (before.rfind("\n") + 1) + 1
        self.problems.append(Problem(offset, line, column, message))

    # -- grammar -------------------------------------------------------------------------------
    def check(self) -> str:
        result = self.expr()
        if self.peek().kind != "end":
            raise _UnsupportedError("trailing input")
        return result

    def expr(self) -> str:
        start = self.peek().offset
        cond = self.or_()
        if not self.accept("?"):
            return cond
        self.need_bool(cond, start, "the condition of '? :'")
        then = self.expr()
        self.expect(":")
        other = self.expr()
        return then if then == other else DYN

    def need_bool(self, kind: str, offset: int, what: str) -> None:
        if kind not in ("bool", DYN):
            self.problem(offset, f"{what} must be a bool, got {kind}")

    def or_(self) -> str:
        return self.logical("||", self.and_)

    def and_(self) -> str:
        return self.logical("&&", self.relation)

    def logical(self, op: str, operand: Callable[[], str]) -> str:
        start = self.peek().offset
        left = operand()
        if self.peek().text != op or self.peek().kind != "op":
            return left
        self.need_bool(left, start, f"the left side of '{op}'")
        while self.accept(op):
            start = self.peek().offset
            right = operand()
            self.need_bool(right, start, f"the right side of '{op}'")
        return "bool"

    def relation(self) -> str:
        start = self.peek().offset
        left = self.additive()
        while True:
            token = self.peek()
            is_rel = token.kind == "op" and token.text in ("<", "<=", ">", ">=", "==", "!=")
            if not is_rel and not (token.kind == "ident" and token.text == "in"):
                return left
            self.take()
            right = self.additive()
            self.relation_types(token, left, right, start)
            left = "bool"

    def relation_types(self, token: _Token, left: str, right: str, start: int) -> None:
        op = token.text
        if op == "in":
            if right.startswith("list"):
                element = _element(right)
                if not _compatible(left, element):
                    self.problem(start, f"'{left} in {right}' is never true: the list holds {element}")
            elif right not in ("map", DYN):
                self.problem(token.offset, f"'in' needs a list or a map on its right, got {right}")
        elif op in ("==", "!="):
            if not _compatible(left, right):
                self.problem(token.offset, f"comparing {left} with {right}: always {op == '!='}")
        else:
            ordered = (left in NUMERIC and right in NUMERIC) or left == right or DYN in (left, right)
            if not ordered or left in ("list(string)", "list", "map", "null"):
                self.problem(token.offset, f"cannot order {left} and {right} with '{op}'")

    def additive(self) -> str:
        left = self.multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            token = self.take()
            right = self.multiplicative()
            left = self.arithmetic(token, left, right)
        return left

    def multiplicative(self) -> str:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "%"):
            token = self.take()
            right = self.unary()
            left = self.arithmetic(token, left, right)
        return left

    def arithmetic(self, token: _Token, left: str, right: str) -> str:
        if DYN in (left, right):
            return DYN
        if left == right and (
            left in NUMERIC
            or (token.text == "+" and (left in ("string", "bytes") or left.startswith("list")))
        ):
            return left
        hint = " (CEL does not mix int and double: convert with double(x))" if left in NUMERIC else ""
        self.problem(token.offset, f"'{token.text}' is not defined for {left} and {right}{hint}")
        return DYN

    def unary(self) -> str:
        token = self.peek()
        if token.kind == "op" and token.text == "!":
            self.take()
            operand = self.unary()
            self.need_bool(operand, self.tokens[self.index - 1].offset, "the operand of '!'")
            return "bool"
        if token.kind == "op" and token.text == "-":
            self.take()
            operand = self.unary()
            if operand not in NUMERIC and operand != DYN:
                self.problem(token.offset, f"'-' needs a number, got {operand}")
            return operand
        return self.member()

    def member(self) -> str:
        kind = self.primary()
        while True:
            if self.accept("."):
                name = self.take()
                if name.kind != "ident":
                    raise _UnsupportedError("expected a name after '.'")
                if self.accept("("):
                    kind = self.method(kind, name)
                elif kind in ("map", DYN):
                    kind = DYN
                else:
                    self.problem(name.offset, f"{kind} has no field '{name.text}'")
                    kind = DYN
            elif self.accept("["):
                index = self.expr()
                self.expect("]")
                if kind.startswith("list"):
                    if index not in ("int", "uint", DYN):
                        self.problem(self.peek().offset, f"a list index must be an int, got {index}")
                    kind = _element(kind)
                else:
                    kind = DYN
            else:
                return kind

    def method(self, receiver: str, name: _Token) -> str:
        if name.text in _MACROS_BOOL or name.text in _MACROS_LIST:
            bound = self.take()
            if bound.kind != "ident":
                raise _UnsupportedError("a macro binds a name")
            self.expect(",")
            self.scopes.append({bound.text: _element(receiver)})
            try:
                body_start = self.peek().offset
                body = self.expr()
                if name.text != "map":
                    self.need_bool(body, body_start, f"the predicate of {name.text}()")
                while self.accept(","):
                    self.expr()
            finally:
                self.scopes.pop()
            self.expect(")")
            if receiver not in (DYN, "map") and not receiver.startswith("list"):
                self.problem(name.offset, f"{name.text}() needs a list, got {receiver}")
            return "bool" if name.text in _MACROS_BOOL else "list"
        args = self.arguments()
        if name.text in _STRING_METHODS:
            if receiver not in ("string", DYN):
                self.problem(name.offset, f"{name.text}() is a string method, called on {receiver}")
            for arg in args:
                if arg not in ("string", DYN):
                    self.problem(name.offset, f"{name.text}() takes a string, got {arg}")
            return _STRING_METHODS[name.text]
        if name.text == "size":
            return "int"
        if receiver == DYN:
            return DYN
        self.problem(name.offset, f"unknown method '{name.text}' on {receiver}")
        return DYN

    def arguments(self) -> list[str]:
        args: list[str] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.expr())
            if self.accept(")"):
                return args
            self.expect(",")

    def primary(self) -> str:
        token = self.take()
        if token.kind in ("int", "uint", "double", "string", "bytes"):
            return token.kind
        if token.kind == "op":
            if token.text == "(":
                kind = self.expr()
                self.expect(")")
                return kind
            if token.text == "[":
                kinds: list[str] = []
                while not self.accept("]"):
                    kinds.append(self.expr())
                    if not self.accept(","):
                        self.expect("]")
                        break
                if kinds and all(k == kinds[0] for k in kinds) and kinds[0] != DYN:
                    return f"list({kinds[0]})"
                return "list"
            if token.text == "{":
                while not self.accept("}"):
                    self.expr()
                    self.expect(":")
                    self.expr()
                    if not self.accept(","):
                        self.expect("}")
                        break
                return "map"
            if token.text == ".":
                return self.primary()
            raise _UnsupportedError(f"unexpected {token.text!r}")
        if token.kind != "ident":
            raise _UnsupportedError("unexpected end")
        if token.text in ("true", "false"):
            return "bool"
        if token.text == "null":
            return "null"
        if self.peek().kind == "op" and self.peek().text == "(":
            self.take()
            if token.text == "has":
                self.arguments()
                return "bool"
            args = self.arguments()
            found = _GLOBALS.get(token.text)
            if found is None:
                self.problem(token.offset, f"unknown function '{token.text}'")
                return DYN
            if token.text == "size" and args and args[0] in ("bool", "int", "uint", "double", "null"):
                self.problem(token.offset, f"size() of {args[0]}")
            return found
        if self.peek().kind == "op" and self.peek().text == "{":
            raise _UnsupportedError("message construction")
        for scope in reversed(self.scopes):
            if token.text in scope:
                return scope[token.text]
        found = self.variables.get(token.text)
        if found is None:
            self.problem(token.offset, unknown_variable(token.text, self.variables))
            return DYN
        return found


def unknown_variable(name: str, variables: dict[str, str]) -> str:
    close = difflib.get_close_matches(name, list(variables), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown variable '{name}'{hint}"


def check(source: str, variables: dict[str, str], referenced: list[str] | None = None) -> list[Problem]:
    """Problems of a condition that parsed: unknown names and type errors, and a result that is not a
    bool. ``referenced`` (the library's own list of names) is the fallback when this parser does not
    handle a construct: then only names are checked, at their first occurrence."""
    try:
        checker = _Checker(source, variables)
        result = checker.check()
    except _UnsupportedError:
        problems: list[Problem] = []
        for name in referenced or []:
            bound = re.search(rf"\.(?:exists|all|exists_one|map|filter)\(\s*{re.escape(name)}\s*,", source)
            if name not in variables and bound is None:
                match = re.search(rf"(?<![\w.]){re.escape(name)}\b", source)
                offset = match.start() if match else 0
                before = source[:offset]
                problems.append(
                    Problem(
                        offset,
                        before.count("\n") + 1,
                        offset - (before.rfind("\n") + 1) + 1,
                        unknown_variable(name, variables),
                    )
                )
        return problems
    if result not in ("bool", DYN):
        checker.problem(0, f"a condition must be a bool, this one is {result}")
    return sorted(checker.problems, key=lambda p: p.offset)
