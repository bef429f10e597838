"""Findings as JSON Lines: one object a line, exactly the Finding contract."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from pushguard.model import Finding

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Finding)


def write_findings(path: Path, findings: Iterable[Finding]) -> int:
    count = 0
    with path.open("wb") as handle:
        for finding in findings:
            handle.write(_encoder.encode(finding))
            handle.write(b"\n")
            count += 1
    return count


def read_findings(path: Path) -> list[Finding]:
    """Findings from a JSON Lines file; the highest revision of each id wins."""
    best: dict[str, Finding] = {}
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                finding = _decoder.decode(line)
                old = best.get(finding.id)
                if old is None or finding.revision > old.revision:
                    best[finding.id] = finding
    return sorted(best.values(), key=lambda f: (f.detected_at, f.id))
