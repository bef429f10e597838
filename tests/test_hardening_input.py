"""Hostile input that used to stall or crash (issue 19, items 1-4): a long Okta debugData map, JSON nested
too deep, times at the ends of the calendar, a line or document too big to hold."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pushguard.model import RawRef
from pushguard.simulate import okta_records as okta
from pushguard.sources import OKTA
from pushguard.sources.okta_parts import _java_map

MOMENT = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOGIN = "alice@corp.example"

# The pattern the parser used before: the reference for what a k=v map means, on short texts only (it is
# quadratic on a long run without "=").
_KV_REFERENCE = re.compile(r"([^{},=]+)=([^{},=]*)")


def with_debug(record: dict[str, Any], **debug: Any) -> dict[str, Any]:
    record["debugContext"]["debugData"].update(debug)
    return record


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="ab {},= =\t", max_size=40))
def test_the_debug_map_reads_as_the_k_v_pattern_did(text: str) -> None:
    reference = {k.strip(): v.strip() for k, v in _KV_REFERENCE.findall(text)}
    assert _java_map(text) == reference


def test_a_40000_character_behaviors_string_is_parsed_in_linear_time() -> None:
    long = "a" * 40_000
    record = with_debug(
        okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"),
        behaviors=long,
        risk="{" + long,
        logOnlySecurityData=long,
    )
    began = time.perf_counter()
    result = OKTA.parse(record, RawRef(source="t", position=1))
    elapsed = time.perf_counter() - began
    assert isinstance(result, list) and result[0].behaviors == ()
    assert elapsed < 0.5, f"{elapsed:.2f} s for one record (the quadratic pattern took ~8 s)"
    # ten times longer, ten times the work at most (quadratic would be a hundred)
    record = with_debug(okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"), behaviors=long * 10)
    began = time.perf_counter()
    OKTA.parse(record, RawRef(source="t", position=1))
    assert time.perf_counter() - began < 1.0


def test_a_long_behaviors_map_still_reads_its_verdicts() -> None:
    text = "{" + ", ".join([f"Filler {n}=NEGATIVE" for n in range(3000)] + ["New Device=POSITIVE"]) + "}"
    record = with_debug(okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"), behaviors=text)
    result = OKTA.parse(record, RawRef(source="t", position=1))
    assert isinstance(result, list) and result[0].behaviors == ("new_device",)

