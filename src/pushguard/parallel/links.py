"""Which accounts may end up one person, known before the identity resolver runs: ``--jobs`` splits the
events so that every account the resolver could join to another lands in the same process, which then
resolves its events in event-time order exactly as one process would (``enrich.resolver``).

The resolver reads and writes its state only under names an event gives: the account
(``provider|login``), the login and identity, the vendor's immutable id (``provider|id``), the address
the record gives (and the alias map's name for it), and the directory's links. Joining every account to
all of those names (a union-find) yields groups no link, conflict or block can cross: each group's
resolution depends on the group's events alone. Joining more than needed only costs balance, never
correctness, so names from different namespaces may share a node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pushguard.enrich.resolver import Link


class Groups:
    """Union-find over names."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        parent = self._parent
        root = parent.setdefault(name, name)
        while root != parent[root]:
            root = parent[root]
        while name != root:  # path compression
            parent[name], name = root, parent[name]
        return root

    def join(self, name: str, others: Iterable[str]) -> None:
        root = self.find(name)
        for other in others:
            theirs = self.find(other)
            if theirs != root:
                self._parent[theirs] = root


def plan_partitions(
    names: Sequence[dict[str, set[str]]],
    counts: Sequence[Counter[str]],
    jobs: int,
    directory: Iterable[Link] = (),
) -> dict[str, int]:
    """Routing name → process: the groups spread over ``jobs`` processes by their event counts (largest
    first, each to the least loaded), so that the processes' shares of detection are close."""
    groups = Groups()
    for table in names:
        for name, linked in table.items():
            groups.join(name, linked)
    for link in directory:  # a directory's link joins as the records' evidence does
        groups.join(link.account, (link.person, link.account.split("|", 1)[-1]))
    sizes: Counter[str] = Counter()
    for counted in counts:
        for name, count in counted.items():
            sizes[groups.find(name)] += count
    loads = [0] * jobs
    owner: dict[str, int] = {}
    for root, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        least = min(range(jobs), key=lambda index: (loads[index], index))
        owner[root] = least
        loads[least] += size
    return {name: owner[groups.find(name)] for counted in counts for name in counted}


def plan_keys(usage: Sequence[Counter[str]], jobs: int, every_key: bool = False) -> dict[str, int]:
    """Second-stage key (an IP, an ASN) foreseen by several processes → the one that runs its detectors,
    spread by their events (largest first, each to the least loaded). A key foreseen by one process only
    runs there, and is listed only with ``every_key``."""
    seen: Counter[str] = Counter()
    for table in usage:
        seen.update(table.keys())
    loads = [0] * jobs
    owner: dict[str, int] = {}
    if every_key:
        owner.update((key, index) for index, table in enumerate(usage) for key in table if seen[key] == 1)
    for index, table in enumerate(usage):  # what stays: every process's keys of its own
        loads[index] += sum(count for key, count in table.items() if seen[key] == 1)
    shared = sorted(
        ((key, sum(table.get(key, 0) for table in usage)) for key, times in seen.items() if times > 1),
        key=lambda item: (-item[1], item[0]),
    )
    for key, size in shared:
        least = min(range(jobs), key=lambda index: (loads[index], index))
        owner[key] = least
        loads[least] += size
    return owner
