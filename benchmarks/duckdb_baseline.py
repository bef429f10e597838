"""The push-bombing rule alone, as a DuckDB SQL window query over ``read_json`` of an Okta System Log.

    python benchmarks/duckdb_baseline.py FILE.jsonl

It counts ``system.push.send_factor_verify_push`` records per user over a 10-minute RANGE window and
reports the windows with 5 or more prompts (the push-bombing detector's ``window_s`` and
``quiet_min_prompts`` defaults). It is the baseline ``benchmarks/analyze.py`` compares against: one rule,
with no answers subtracted, no escalation, no enrichment, no state kept for the next file. The columns are
declared, so DuckDB parses only what the rule needs (the fastest fair form of the query).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb

WINDOW_MINUTES = 10
MIN_PROMPTS = 5

QUERY = f"""
WITH prompts AS (
    SELECT actor.alternateId AS login, CAST(published AS TIMESTAMP) AS ts
    FROM read_json(
        ?,
        format = 'newline_delimited',
        columns = {{
            'eventType': 'VARCHAR',
            'published': 'VARCHAR',
            'actor': 'STRUCT(alternateId VARCHAR)'
        }},
        ignore_errors = true
    )
    WHERE eventType = 'system.push.send_factor_verify_push'
),
windows AS (
    SELECT login, ts, count(*) OVER (
        PARTITION BY login ORDER BY ts
        RANGE BETWEEN INTERVAL {WINDOW_MINUTES} MINUTE PRECEDING AND CURRENT ROW
    ) AS prompts
    FROM prompts
)
SELECT login, min(ts) AS first_hit, max(prompts) AS peak
FROM windows WHERE prompts >= {MIN_PROMPTS}
GROUP BY login ORDER BY first_hit
"""


def bombing_users(path: Path, threads: int = 1) -> tuple[float, list[tuple[str, object, int]]]:
    """(seconds, [(login, first window end at or over the limit, peak prompts)]), on ``threads`` cores."""
    connection = duckdb.connect()
    try:
        connection.execute(f"SET threads = {int(threads)}")
        began = time.perf_counter()
        rows = connection.execute(QUERY, [str(path)]).fetchall()
        return time.perf_counter() - began, [(str(r[0]), r[1], int(r[2])) for r in rows]
    finally:
        connection.close()


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    seconds, rows = bombing_users(Path(sys.argv[1]))
    print(f"duckdb push-bombing window query: {seconds:.2f} s, {len(rows)} users over the limit")


if __name__ == "__main__":
    main()
