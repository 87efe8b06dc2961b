"""The packed fan-out as one Prefect task: --pack N runs the sweep's cells in N packed jobs, with progress per item
in the task run's log as each packed job's runner reports it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from rjobs.packing.engine import PackedSweep


@task(name="run-packs", cache_policy=NO_CACHE)
def run_packs(packed: PackedSweep) -> list[str]:
    """Run every unfinished cell in the sweep's packed jobs to their end; the names of the packs launched."""
    return packed.run()
