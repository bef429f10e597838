"""Reading a settings file (YAML): every failure is a ``ConfigError`` that names the file. Writing the
files pushguard keeps (state, logs, spools, checkpoints): created readable by their owner only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

import yaml

from pushguard.model.errors import ConfigError


def read_text_file(path: Path, what: str = "") -> str:
    """A settings file's text; ``what`` names it in the error ("alias map": "cannot read alias map")."""
    named = f" {what}" if what else ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read{named}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        subject = f"{what} is not" if what else "not"
        raise ConfigError(f"{path}: {subject} UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_yaml_file(path: Path) -> Any:
    """The file's YAML document (None when empty)."""
    text = read_text_file(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None


PRIVATE_FILE_MODE = 0o600  # what pushguard writes holds users' telemetry, state or secrets
PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create a directory (and missing parents) only its owner can enter; an existing one is left as is."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def open_private(path: Path, mode: str = "ab", buffering: int = -1) -> IO[Any]:
    """``open(path, mode)`` that creates a missing file readable by its owner only (0600)."""
    flags = os.O_CREAT | os.O_CLOEXEC
    if "+" in mode:
        flags |= os.O_RDWR
    elif mode[0] in "wa":
        flags |= os.O_WRONLY
    if mode[0] == "a":
        flags |= os.O_APPEND
    elif mode[0] == "w":
        flags |= os.O_TRUNC
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        if mode[0] == "w":  # rewritten whole (a temporary file left by a crash, say): private as well
            os.fchmod(descriptor, PRIVATE_FILE_MODE)
        return os.fdopen(descriptor, mode, buffering=buffering, encoding=None if "b" in mode else "utf-8")
    except BaseException:
        os.close(descriptor)
        raise


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (a file a library then opens itself)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, PRIVATE_FILE_MODE))
