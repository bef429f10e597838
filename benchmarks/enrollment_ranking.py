"""Does the enrollment review rank every attacker's enrollment above every benign one? On simulated
tenants (seeds 1-3, 300 users, 7 days by default), for the enrollment_abuse and reset_enroll_access
campaigns: the rank and score of each attack enrollment, the best-ranked benign enrollment, and which
attack enrollments fall below a benign one, with their signals.

    python benchmarks/enrollment_ranking.py [--seeds 1 2 3] [--users 300] [--days 7]"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pushguard.review import review_enrollments
from pushguard.simulate.labels import LABELS_FILE, read_labels
from pushguard.simulate.scenario import simulate

KINDS = frozenset({"enrollment_abuse", "reset_enroll_access"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "tenant"
            simulate(seed, args.users, args.days, root)
            labels = read_labels(root / LABELS_FILE)
            attack = {i: c.id for c in labels.campaigns if c.kind in KINDS for i in c.event_ids}
            labeled = {i for c in labels.campaigns for i in c.event_ids}
            ranked = [r for r in review_enrollments([root]) if r.operation == "enrolled"]
        attacks = [(n, r) for n, r in enumerate(ranked) if r.event_id in attack]
        benign = [(n, r) for n, r in enumerate(ranked) if r.event_id not in labeled]
        best_benign = min((n for n, _ in benign), default=len(ranked))
        above = sum(1 for n, _ in attacks if n < best_benign)
        print(
            f"seed {seed}: {len(ranked)} enrollments; {above}/{len(attacks)} attack enrollments above every "
            f"benign one; attack ranks {[n + 1 for n, _ in attacks]} "
            f"(scores {[r.score for _, r in attacks]}); "
            f"best benign rank {best_benign + 1} (score {benign[0][1].score if benign else '-'})"
        )
        for n, row in attacks:
            if n > best_benign:
                print(f"  below a benign one: {row.identity} score {row.score} {row.signals}")
        if benign:
            print(f"  top benign: {benign[0][1].identity} {benign[0][1].signals}")


if __name__ == "__main__":
    main()
