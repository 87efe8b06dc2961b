"""A model of Azure ML job overheads (issue 15): 1,000 items of 10 s on 8 nodes x 4 processes, packed into 8 jobs
against one command job per item, on a cold and a warm cluster. A discrete-event simulation on a simulated clock:
nothing sleeps, event times are computed, so it runs in milliseconds and gives the same figures every time.

What is modelled (figures in OVERHEADS; why each, in bench/RESULTS.md):
- the orchestrator submits one job at a time (`submit_s` per create), at most `in_flight` jobs outstanding, and
  sees a job's end at its next status poll (`poll_s`);
- the cluster runs one job per node (AmlCompute's default) and schedules a queued job `queue_s` after a node is
  free; on a cold cluster every node is first allocated (`allocate_s`, from the first submission, in parallel)
  and its first job pulls the image (`image_pull_s`); every job pays `start_s` (container start, code snapshot,
  data mount) before R and `finalize_s` (outputs upload) after;
- a packed job runs its items on `processes` R processes (the runner's pool), each item paying `item_start_s`
  (Rscript start and the item's code copy) besides its own seconds; items are assigned longest first
  (rjobs.packing.assign), as --pack does.

Usage: python -m bench.packing_model [--items 1000] [--seconds 10] [--nodes 8] [--processes 4]
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from dataclasses import dataclass

from rjobs.packing.assign import assign, makespan


@dataclass(frozen=True)
class Overheads:
    name: str
    allocate_s: float
    image_pull_s: float
    queue_s: float = 20.0
    start_s: float = 45.0
    finalize_s: float = 20.0
    submit_s: float = 1.0
    poll_s: float = 15.0
    item_start_s: float = 0.3


OVERHEADS = (
    Overheads("cold", allocate_s=300.0, image_pull_s=180.0),
    Overheads("warm", allocate_s=0.0, image_pull_s=0.0),
)


@dataclass(frozen=True)
class Outcome:
    makespan_s: float
    jobs: int


def simulate(work_s: list[float], nodes: int, over: Overheads, in_flight: int) -> Outcome:
    """Jobs of the given in-container work, submitted in order: when the orchestrator sees the last one end."""
    node_free = [(over.allocate_s, index) for index in range(nodes)]  # allocation starts at the first submission
    heapq.heapify(node_free)
    pulled: set[int] = set()
    seen: list[float] = []  # when the orchestrator saw each outstanding job end
    clock = 0.0
    last_seen = 0.0
    for work in work_s:
        if len(seen) >= in_flight:  # wait for a slot: a job seen ended
            clock = max(clock, heapq.heappop(seen))
        clock += over.submit_s
        free_at, node = heapq.heappop(node_free)
        start = max(clock, free_at) + over.queue_s
        if node not in pulled:
            start += over.image_pull_s
            pulled.add(node)
        end = start + over.start_s + work + over.finalize_s
        heapq.heappush(node_free, (end, node))
        ended_seen = math.ceil(end / over.poll_s) * over.poll_s
        heapq.heappush(seen, ended_seen)
        last_seen = max(last_seen, ended_seen)
    return Outcome(last_seen, len(work_s))


def packed_work(sizes: dict[str, float], jobs: int, processes: int, estimates: dict[str, float]) -> list[float]:
    """Each packed job's in-container time: its items on the runner's pool, assigned by the size estimates."""
    packs = assign(list(sizes), jobs, estimates)
    return [makespan([pack], sizes, processes) for pack in packs]


def one_job_start(over: Overheads) -> float:
    return over.allocate_s + over.image_pull_s + over.queue_s + over.start_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    n, k = args.nodes, args.processes
    print(f"{args.items} items of {args.seconds:g} s on {n} nodes x {k} processes")
    print("| cluster | packed (8 jobs) s | ideal s | packed / ideal | one job per item s | per item / packed | jobs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for over in OVERHEADS:
        item_s = args.seconds + over.item_start_s
        sizes = {f"i{i:04d}": item_s for i in range(args.items)}
        packed = simulate(packed_work(sizes, n, k, sizes), n, over, in_flight=n)
        single = simulate([item_s] * args.items, n, over, in_flight=2 * n)
        ideal = args.items * args.seconds / (n * k) + one_job_start(over)
        print(
            f"| {over.name} | {packed.makespan_s:,.0f} | {ideal:,.0f} | {packed.makespan_s / ideal:.2f} | "
            f"{single.makespan_s:,.0f} | {single.makespan_s / packed.makespan_s:.1f}x | "
            f"{packed.jobs} vs {single.jobs} ({single.jobs / packed.jobs:.0f}x fewer) |"
        )
    rng = random.Random(15)
    uneven = {f"i{i:04d}": rng.uniform(2, 18) + 0.3 for i in range(args.items)}
    over = OVERHEADS[1]
    ideal = sum(uneven.values()) / (n * k) + one_job_start(over)
    by_ledger = simulate(packed_work(uneven, n, k, uneven), n, over, in_flight=n).makespan_s
    unknown = simulate(packed_work(uneven, n, k, dict.fromkeys(uneven, 1.0)), n, over, in_flight=n).makespan_s
    print(f"\nitems of 2-18 s (mean 10), warm cluster: ideal {ideal:,.0f} s")
    print(f"- sizes known from the ledger (longest first): {by_ledger:,.0f} s ({by_ledger / ideal:.2f}x ideal)")
    print(f"- sizes unknown (equal estimates): {unknown:,.0f} s ({unknown / ideal:.2f}x ideal)")


if __name__ == "__main__":
    main()
