"""Which items go into which packed job, so the N jobs finish together.

Longest first onto the least-loaded job (LPT scheduling: the makespan is within 4/3 of the best possible), by a
size estimate: a previous run's duration of the item from the ledger when there is one (a killed or failed pack, a
re-run after the grid grew, an unpacked run of the same sweep); items without one count as the median of those
with one, or all alike when none has one. File sizes, the other estimate the issue names, say nothing of a grid
cell: every cell runs the same script on the same data. Inside a job the runner's pool claims items in this
order as processes free up, so a straggler item holds one process, not the job's whole queue.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence

DEFAULT_SIZE = 1.0


def estimate_sizes(items: Sequence[str], durations: Mapping[str, float | None]) -> dict[str, float]:
    """Each item's expected seconds: its last known duration, else the median of the known ones (else 1)."""
    known = {item: float(d) for item in items if (d := durations.get(item)) is not None and d >= 0}
    fallback = statistics.median(known.values()) if known else DEFAULT_SIZE
    return {item: known.get(item, fallback) for item in items}


def assign(items: Sequence[str], jobs: int, sizes: Mapping[str, float]) -> list[list[str]]:
    """Items into at most `jobs` non-empty lists, longest first onto the least-loaded list (ties by item id and
    job index, so the same items and sizes always give the same packs); each list longest first."""
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    count = min(jobs, len(items))
    packs: list[list[str]] = [[] for _ in range(count)]
    loads = [(0.0, index) for index in range(count)]
    for item in sorted(items, key=lambda i: (-sizes.get(i, DEFAULT_SIZE), i)):
        load, index = heapq.heappop(loads)
        packs[index].append(item)
        heapq.heappush(loads, (load + sizes.get(item, DEFAULT_SIZE), index))
    return packs


def makespan(packs: Sequence[Sequence[str]], sizes: Mapping[str, float], processes: int) -> float:
    """The estimated time until the last pack ends when each runs its items in order on `processes` processes
    (greedy, as the runner's pool does): used by the bench's model."""
    longest = 0.0
    for pack in packs:
        free = [0.0] * max(1, processes)
        for item in pack:
            start = heapq.heappop(free)
            heapq.heappush(free, start + sizes.get(item, DEFAULT_SIZE))
        longest = max(longest, max(free))
    return longest
