"""A Prefect global concurrency limit shared by every flow run, so all sweeps together respect one cluster quota.

`max_concurrent` bounds one sweep; this bounds the jobs in flight across all sweeps that name the same limit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger

# Waiting for a slot is the point (other sweeps hold them while their jobs run for hours), so the wait is
# long; it only ends a cell whose slot never frees, e.g. a limit someone set to 0 or deactivated mid-sweep.
SLOT_WAIT_S = 24 * 3600.0


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run logger inside a flow or task run (shown in the UI), a module logger elsewhere."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def ensure_limit(name: str, size: int) -> int:
    """Create the limit with `size` slots if missing; an existing limit is kept as an operator set it.

    Returns the limit's actual size. An existing limit is never changed, because other flow runs share it
    and may have set it on purpose; a different size or an inactive limit is logged as a warning.
    """
    if size < 1:
        raise ValueError(f"global limit {name!r}: size must be at least 1, got {size}")
    logger = _logger()
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=size))
                logger.info("global limit %s created with %d slot(s)", name, size)
                return size
            except ObjectAlreadyExists:
                existing = client.read_global_concurrency_limit_by_name(name)  # another run created it first
    if existing.limit != size:
        logger.warning(
            "global limit %s exists with %d slot(s), not %d; keeping %d", name, existing.limit, size, existing.limit
        )
    if not existing.active:
        logger.warning("global limit %s is inactive: it limits nothing until it is activated", name)
    return existing.limit


@contextmanager
def job_slot(name: str, timeout_s: float | None = SLOT_WAIT_S) -> Iterator[None]:
    """Hold one slot of the global limit `name` for the block: one job submitted and waited for.

    strict: a missing limit raises instead of silently limiting nothing (call ensure_limit first).
    A failed lease renewal does not abort the block: the job keeps running either way, and the lease
    expiring only frees the slot early.
    """
    with concurrency(name, occupy=1, timeout_seconds=timeout_s, strict=True, raise_on_lease_renewal_failure=False):
        yield
