"""Bounds on one input record: how deep its JSON may nest, how many bytes one line or one document may hold.

No vendor record nests deeper than about ten levels. Deeper JSON is refused with a reason (per record,
with its position) before anything recursive sees it: msgspec and Python stop at their recursion limit,
which depends on how deep the caller's own stack already is, so a record that decodes in one place could
fail in another. The size caps bound memory: a line or a document over its cap is refused (the rest of
the input is still read), whatever a compressed file inflates to."""

from __future__ import annotations

import itertools
import os
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from pushguard.model import ConfigError

MAX_DEPTH = 64  # arrays and objects inside one another, in one record
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels"

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 opens, -1 (as a signed byte) closes
_encoder = msgspec.json.Encoder()


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects deeper than ``limit`` (brackets inside
    strings do not count). Linear, at C speed: a record with fewer brackets than the limit is answered
    by two counts."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    if b"\\" in data:  # escaped quotes and backslashes: only inside strings
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Keep quotes and brackets. An adjacent pair of quotes is a string without brackets, or the end of one
    # string and the start of the next with no brackets between: dropping it changes no depth.
    marks = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in marks:  # strings holding brackets: keep what lies outside them
        marks = b"".join(marks.split(b'"')[::2])
    return max(itertools.accumulate(array("b", marks.translate(_STEPS))), default=0) > limit


def value_too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """``too_deep`` for a decoded value (a record inside a batch or a document)."""
    if not isinstance(value, dict | list):
        return False
    try:
        return too_deep(_encoder.encode(value), limit)
    except RecursionError:
        return True
    except (TypeError, ValueError, UnicodeError):  # not JSON-encodable: not ours to judge here
        return False


DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024  # an Okta page of 1,000 events on one line is ~3 MB
DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # a JSON document read whole (an API page, a blob)


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Size caps of the readers. Set from the environment (``PUSHGUARD_MAX_LINE_BYTES``,
    ``PUSHGUARD_MAX_DOCUMENT_BYTES``) so that every process of a run (``--jobs``) reads alike."""

    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        env = os.environ if environ is None else environ
        return cls(
            max_line_bytes=_size(env, "PUSHGUARD_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES),
            max_document_bytes=_size(env, "PUSHGUARD_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
        )


def _size(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment {name}={text!r}: not a whole number of bytes") from None
    if value < 1024:
        raise ConfigError(f"environment {name}={value}: must be at least 1024 bytes")
    return value
