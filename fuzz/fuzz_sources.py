"""Coverage-guided fuzzing of the readers and every vendor parser (atheris / libFuzzer).

    python fuzz/fuzz_sources.py fuzz/corpus -runs=20000          # what CI runs
    python fuzz/fuzz_sources.py fuzz/corpus -max_total_time=600  # a longer hunt

Each input is a log file's bytes. The contract checked is the project's: the reader yields records or
per-record errors (or refuses the whole file with ``PushguardError``), and every source given a record
returns Events or an ``Unmapped`` reason or raises ``RecordError``; so does a typed decoder given the
lines it takes (``read_records``). Anything else is a crash that libFuzzer saves as ``crash-*`` for a
regression test. The seed corpus holds a few real-shaped records of each vendor (``fuzz/corpus``, small on
purpose) and hostile inputs: deep nesting, huge strings (a 40,000-character Okta ``behaviors``), and gzip
bombs of one line and of one document (8 MiB of zeros or spaces in ~10 KB). The size caps are lowered
here (64 KiB a line, 1 MiB a document) so that a bomb is refused quickly; libFuzzer's RSS limit catches a
reader that holds what it inflates."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

os.environ.setdefault("PUSHGUARD_MAX_LINE_BYTES", str(64 * 1024))
os.environ.setdefault("PUSHGUARD_MAX_DOCUMENT_BYTES", str(1024 * 1024))

with atheris.instrument_imports():
    import msgspec

    from pushguard.model import Event, PushguardError, RawRef
    from pushguard.sources import SOURCES, RecordError, Unmapped
    from pushguard.sources.readers import Decoded, read_file, read_records

_FD, _PATH = tempfile.mkstemp(suffix=".jsonl")
os.close(_FD)
_REF = RawRef(source="fuzz", position=1)


def check_record(record: dict[str, object]) -> None:
    for source in SOURCES:
        try:
            result = source.parse(record, _REF)
        except RecordError:
            continue
        check_result(result, source.provider)


def check_result(result: list[Event] | Unmapped, provider: object) -> None:
    if isinstance(result, Unmapped):
        return
    for event in result:
        if not isinstance(event, Event):
            raise TypeError(f"{provider}: parse gave {type(event)}")
        msgspec.msgpack.encode(event)


def test_one_input(data: bytes) -> None:
    Path(_PATH).write_bytes(data)
    try:
        items = list(read_file(Path(_PATH)))
    except PushguardError:
        return
    for item in items:
        if item.record is not None:
            check_record(item.record)
    for decoded in read_records(Path(_PATH)):
        if isinstance(decoded, Decoded):
            try:
                check_result(decoded.parser.parse_decoded(decoded.value, _REF), decoded.parser.provider)
            except RecordError:
                continue


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
