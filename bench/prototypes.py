"""Prototypes measured by the benchmarks, installed by monkeypatching in a benchmark's own process only.

Nothing here changes the shared code: each function swaps one piece of flows.train for the measurement,
and RESULTS.md gives the diff that would make it real.

- batched fan-out: one Prefect task run per batch of cells instead of one per cell; every cell still runs
  on a shared pool of `limit` threads, so at most `limit` jobs are in flight. Batches of ceil(cells / 20)
  are what the proposed flows/train.py does past 100 cells (20 task runs per sweep).
- single-task fan-out: one Prefect task run drives the whole sweep with the engine's thread pool.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def install_batched_fan_out(batch: int) -> None:
    """flows.train.fan_out -> one task run per `batch` cells (batch=0: one task run for the whole sweep)."""
    from prefect import get_run_logger, task
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import as_completed

    import flows.train

    pools: dict[int, ThreadPoolExecutor] = {}

    @task(name="run-cells", task_run_name="cells-{first}+{count}", cache_policy=NO_CACHE)
    def run_cells(sweep: Any, cell_ids: list[str], first: str, count: int, pool_key: int) -> int:
        pool = pools[pool_key]
        results = list(pool.map(sweep.run_cell, cell_ids))
        completed = sum(1 for r in results if r.record.state == "Completed")
        get_run_logger().info("%d/%d cell(s) completed", completed, count)
        return completed

    def fan_out(sweep: Any, limit: int) -> None:
        logger = get_run_logger()
        cells = list(sweep.cells)
        size = batch or len(cells)
        batches = deque(cells[i : i + size] for i in range(0, len(cells), size))
        window = math.ceil(2 * limit / size) + 1
        pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cell")
        pools[id(pool)] = pool
        running: dict[Any, int] = {}
        done = 0
        try:
            while batches or running:
                while batches and len(running) < window:
                    ids = batches.popleft()
                    future = run_cells.submit(sweep, ids, ids[0], len(ids), id(pool))
                    running[future] = len(ids)
                finished = next(as_completed(list(running)))
                done += running.pop(finished)
                logger.info("[%d/%d] cells done", done, len(cells))
        except BaseException:
            sweep.cancel_all()
            raise
        finally:
            pool.shutdown(wait=True)
            pools.pop(id(pool), None)

    flows.train.fan_out = fan_out  # type: ignore[assignment]
