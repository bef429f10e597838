"""Every command of the ``pushguard`` app, walked from the app itself: an example in its help, no Python
type names as placeholders, ``-h`` accepted, and ``--format table|json`` on every command that prints
results. A command added later must be put in RESULT_COMMANDS or NO_RESULT_COMMANDS, or this fails."""

from __future__ import annotations

import enum
import re
import subprocess
import sys

import pytest
import typer
from typer._click import Context  # Typer vendors click
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.cli.lazy import LAZY_COMMANDS, LazyGroup

# Commands whose output is a result someone may want to read with a script.
RESULT_COMMANDS = {
    "analyze",
    "detectors",
    "identities",
    "posture",
    "evaluate",
    "decide",
    "enrollments",
    "report",
    "respond",
    "audit-verify",
    "enforce",
    "ingest",
    "worker",
    "collect",
    "policy signals",
    "policy lint",
    "policy test",
    "policy backtest",
    "keys list",
}
# Commands that print no result of their own (they write files, serve, or print one secret).
NO_RESULT_COMMANDS = {
    "findings",  # its output is the findings as JSON Lines already
    "simulate",
    "demo",
    "serve",
    "keys create",  # prints the secret once, alone on its line
    "keys revoke",
}

TYPE_NAMES = re.compile(r"<(bool|int|float|str|text|path|list\[[^>]*\]|[a-z]+ range|datetime|uuid)>|x[<>]=")
runner = CliRunner()


def _walk(group: TyperGroup, ctx: Context, prefix: str = "") -> dict[str, TyperCommand]:
    found = {}
    commands = group.every_command(ctx) if isinstance(group, LazyGroup) else dict(group.commands)
    for name, command in commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, TyperGroup):
            found.update(_walk(command, ctx, f"{path} "))
        else:
            found[path] = command  # type: ignore[assignment]
    return found


def _commands() -> dict[str, TyperCommand]:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    with Context(root) as ctx:
        return _walk(root, ctx)


COMMANDS = _commands()


def test_every_command_is_classified() -> None:
    unknown = set(COMMANDS) - RESULT_COMMANDS - NO_RESULT_COMMANDS
    assert not unknown, f"classify these commands (results printed or not): {sorted(unknown)}"
    assert not (set(RESULT_COMMANDS | NO_RESULT_COMMANDS) - set(COMMANDS)), "a listed command is gone"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_has_an_example_and_readable_placeholders(path: str) -> None:
    result = runner.invoke(app, [*path.split(), "-h"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = result.output
    assert re.search(r"Examples?:", text), f"{path}: no example in its help"
    assert f"pushguard {path}" in text, f"{path}: the example does not run the command"
    found = TYPE_NAMES.search(text)
    assert found is None, f"{path}: Python type name {found.group(0)!r} in its help"


@pytest.mark.parametrize("path", sorted(RESULT_COMMANDS))
def test_result_commands_offer_table_and_json(path: str) -> None:
    options = [p for p in COMMANDS[path].params if isinstance(p, TyperOption) and "--format" in p.opts]
    assert options, f"{path}: no --format"
    annotation = options[0].type_descriptor.annotation
    assert isinstance(annotation, type)
    assert issubclass(annotation, enum.Enum)
    assert {member.value for member in annotation} == {"table", "json"}


def test_the_listing_summaries_are_the_commands_own() -> None:
    for name, declared in LAZY_COMMANDS.items():
        command = COMMANDS.get(name) or next(c for p, c in COMMANDS.items() if p.startswith(f"{name} "))
        if name in COMMANDS:
            assert (command.help or "").split("\n\n")[0].strip() == declared.summary, name


def test_top_level_help_imports_no_command_module() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from pushguard.cli import app; "
        "r = CliRunner().invoke(app, ['-h']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('fastapi', 'redis', 'plotly', 'duckdb', 'pushguard.pipeline', "
        "'pushguard.cli.analyze', 'celpy', 'cel') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
