"""What every ``pushguard`` command shares: ``-h``, readable placeholders, an example in its help,
``--format table|json``, ``PUSHGUARD_*`` environment variables.

Kept free of heavy imports: it is loaded for ``pushguard --help``."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from typer._click import Command, Context, Parameter  # Typer vendors click: its own classes
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

# The Redis URL: ours first, then the variable most Redis tools and hosting platforms set.
REDIS_URL_ENV = ["PUSHGUARD_REDIS_URL", "REDIS_URL"]


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        metavar="table|json",
        envvar="PUSHGUARD_FORMAT",
        help="table (for people) or json (one document, for scripts).",
    ),
]
# The append-only, hash-chained audit log enforce, respond and the closed loop write (respond.audit).
AUDIT_LOG = Path("pushguard-audit.jsonl")
AuditLogOpt = Annotated[
    Path,
    typer.Option(
        metavar="FILE",
        envvar="PUSHGUARD_AUDIT_LOG",
        help="Append-only, hash-chained audit log (JSON Lines).",
    ),
]


def examples(*lines: str) -> str:
    """A command's epilog: its examples, one a line (Typer keeps paragraphs, so each is one)."""
    head = "Example:" if len(lines) == 1 else "Examples:"
    return "\n\n".join([head, *(f"  {line}" for line in lines)])


def write_json(document: bytes) -> None:
    sys.stdout.write(document.decode() + "\n")


# Placeholders by the value's type for parameters declared without a metavar: Typer's own are Python
# type names (<bool>, <int range>, <list[Path]>), which mean nothing to an operator.
_PLACEHOLDER = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}


def _readable_range(low: float | None, high: float | None) -> str:
    if high is None:
        return f"at least {low:g}" if low is not None else ""
    if low is None:
        return f"at most {high:g}"
    return f"{low:g} to {high:g}"


class ReadableArgument(TyperArgument):
    """An argument shown by its metavar alone (LOG...), without Typer's type column."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None

    @property
    def display_name_raw(self) -> str:
        name = self.metavar or (self.name or "value").upper()
        return f"{name}..." if self.nargs != 1 and not name.endswith("...") else name

    def _usage_display_name(self) -> str:
        return f"{{{self.display_name_raw}}}" if self.required else f"[{self.display_name_raw}]"


def _placeholder(param: TyperOption) -> str:
    descriptor = param.type_descriptor
    annotation: Any = descriptor.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation)
    return _PLACEHOLDER.get(annotation, "VALUE")


def _make_readable(param: Parameter) -> None:
    if not isinstance(param, TyperOption | TyperArgument):
        return
    if param.min is not None or param.max is not None:
        # The range is still enforced (by the parameter's declaration); only Typer's "[x>=1]" goes.
        note = _readable_range(param.min, param.max)
        if note not in (param.help or ""):
            param.help = f"{param.help or ''} ({note})".strip()
        param.min = param.max = None
    if isinstance(param, TyperArgument):
        if type(param) is TyperArgument:
            param.__class__ = ReadableArgument
        if param.metavar is None:
            param.metavar = (param.name or "value").upper()
        return
    if param.metavar is None:
        param.metavar = "" if param.is_flag else _placeholder(param)


class ReadableCommand(TyperCommand):
    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            _make_readable(param)
        return params


class ReadableGroup(TyperGroup):
    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            _make_readable(param)
        return params


def make_readable(command: Command) -> Command:
    """The command (and its subcommands) with placeholders an operator reads: FILE, N, table|json,
    none for a flag; declared metavars are kept. Applied to commands Typer built, whoever declared
    them, so a new command is readable without remembering to ask."""
    if type(command) is TyperCommand:
        command.__class__ = ReadableCommand
    elif type(command) is TyperGroup:
        command.__class__ = ReadableGroup
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            make_readable(sub)
    return command
