"""The root command group, loading a command's module only when that command runs or shows its help.

``pushguard --help`` lists every command from a table of one-line summaries, so it imports none of
FastAPI, Redis, the detectors or the CEL compiler; ``pushguard analyze`` imports ``pushguard.cli.analyze``
(and what it needs) only. Each module keeps its ``register(app)``: loading one registers it into a
fresh Typer and takes the click commands from there."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Command, Context, HelpFormatter  # Typer vendors click: its own classes
from typer.core import TyperCommand

from pushguard.cli.conventions import ReadableGroup, make_readable


@dataclass(frozen=True)
class LazyCommand:
    module: str  # whose register(app) declares the command
    summary: str  # the first paragraph of the command's help, shown in the list


LAZY_COMMANDS: dict[str, LazyCommand] = {}
_loaded: dict[str, dict[str, Command]] = {}


def lazy(module: str, **summaries: str) -> None:
    """Declare the commands ``module.register(app)`` adds (name → one-line summary); ``audit_verify``
    stands for ``audit-verify``."""
    for name, summary in summaries.items():
        LAZY_COMMANDS[name.replace("_", "-")] = LazyCommand(module, summary)


def load_module_commands(module: str) -> dict[str, Command]:
    """The click commands ``module.register`` declares, by name (imported once)."""
    if module not in _loaded:
        declared = typer.Typer()
        importlib.import_module(module).register(declared)
        group = typer.main.get_group(declared)
        _loaded[module] = {name: make_readable(cmd) for name, cmd in group.commands.items()}
    return _loaded[module]


class LazyGroup(ReadableGroup):
    """Commands added the usual way are kept as they are; those declared with :func:`lazy` are imported
    on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*(name for name in LAZY_COMMANDS if name not in eager), *eager]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return make_readable(command)
        declared = LAZY_COMMANDS.get(cmd_name)
        if declared is None:
            return None
        if self._listing:  # the group's own help: the summary is enough
            return TyperCommand(name=cmd_name, help=declared.summary)
        return load_module_commands(declared.module).get(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def every_command(self, ctx: Context) -> dict[str, Command]:
        """Every command, loaded (for tests and documentation)."""
        found: dict[str, Command] = {}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None:
                found[name] = command
        return found
