"""Errors shared by every layer."""

from __future__ import annotations


class PushguardError(Exception):
    """Base of the project's own errors: the message is meant for a human."""


class ParseError(PushguardError):
    """A record could not be read or mapped. Carries where it was and why."""

    def __init__(self, source: str, position: int, reason: str) -> None:
        self.source = source
        self.position = position
        self.reason = reason
        super().__init__(f"{source}:{position}: {reason}")


class InputError(PushguardError):
    """An input as a whole is unusable (missing file, unreadable, not JSON at all)."""


class ConfigError(PushguardError):
    """A configuration, alias map or policy file is invalid."""
