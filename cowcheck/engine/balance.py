"""Which worker owns a partition key: handed out by load, not by hash.

The partitioned search routes a state by a key its model names (``partition_key``),
coarse enough that every state subsumption compares has one owner. Such keys are
few (hundreds on open-standard), so ``hash(key) % N`` leaves the split to luck, and a
level takes as long as its busiest worker.

Instead the coordinator keeps a directory, filled as keys first appear. After phase
1 of a level every worker reports the keys it generated that have no owner yet, with
how many distinct successors it has of each, and how many successors it routed to
each owner of a known key: that is each worker's load for the level. The new keys are
handed out heaviest first, each to the least loaded worker (on a tie, the one that
generated most of its successors). Giving a key to the worker that generated most of
it whenever that worker is nearly the least loaded would ship fewer states, but
unbalances the split more with every level: the keys a worker finds are those its own
states lead to. BENCHMARKS.md has the measured balance.

Every input is a count and ties break by fingerprint and worker number, so the
directory, and with it the state counts and traces, are the same on every run.
"""

from __future__ import annotations

# A worker's report after phase 1: {key fingerprint: distinct successors} for the
# keys no worker owns yet, and the number of successors routed to each worker.
Report = tuple[dict[int, int], list[int]]


def assign(reports: list[Report]) -> dict[int, int]:
    """The owners of a level's new keys, to be sent to every worker; ``reports`` are
    the workers' in worker order."""
    n = len(reports)
    load = [sum(routed[w] for _, routed in reports) for w in range(n)]
    weights: dict[int, int] = {}
    for new, _ in reports:
        for fp, count in new.items():
            weights[fp] = weights.get(fp, 0) + count
    table: dict[int, int] = {}
    workers = range(n)
    for fp in sorted(weights, key=lambda f: (-weights[f], f)):
        # Among the least loaded, the worker that generated most of the key's
        # successors: they need not travel.
        finder = max(workers, key=lambda w: (reports[w][0].get(fp, 0), -w))
        owner = min(workers, key=lambda w: (load[w], w != finder, w))
        table[fp] = owner
        load[owner] += weights[fp]
    return table
