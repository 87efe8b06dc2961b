"""Prefect task that uploads a job's data to Blob Storage and hands back the reference job inputs use."""

from __future__ import annotations

import logging
import os

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from rjobs.storage.clients import CONNECTION_STRING_ENV, make_service_client
from rjobs.storage.upload import DEFAULT_BLOCK_SIZE, MiB, upload

PROGRESS_THRESHOLD = 8 * MiB


class MilestoneProgress:
    """Log every `step`% of a large upload: the run logger reaches the UI, a terminal bar would not."""

    def __init__(
        self, logger: logging.Logger | logging.LoggerAdapter[logging.Logger], threshold: int = PROGRESS_THRESHOLD,
        step: int = 10,
    ) -> None:  # fmt: skip
        self.logger = logger
        self.threshold = threshold
        self.step = step
        self._last = -1

    def __call__(self, sent: int, total: int) -> None:
        if total < self.threshold:
            return
        milestone = (sent * 100 // total) // self.step * self.step
        if milestone > self._last:
            self._last = milestone
            self.logger.info("upload %d%% (%.1f of %.1f MiB)", milestone, sent / MiB, total / MiB)


@task(name="upload-data", cache_policy=NO_CACHE)
def upload_data(
    path: str | os.PathLike[str],
    container: str,
    prefix: str = "",
    account_url: str | None = None,
    connection_string_env: str = CONNECTION_STRING_ENV,
    datastore: str | None = None,
    max_concurrency: int = 4,
    max_file_concurrency: int = 4,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> str:
    """Upload a file or folder (unchanged blobs skipped) and return its azureml:// or blob reference.

    The connection string is read from the named env var, never passed, so Prefect never records it.
    """
    logger = get_run_logger()
    with make_service_client(account_url, connection_string_env=connection_string_env) as client:
        result = upload(
            client,
            path,
            container,
            prefix,
            datastore=datastore,
            max_concurrency=max_concurrency,
            max_file_concurrency=max_file_concurrency,
            block_size=block_size,
            progress=MilestoneProgress(logger),
        )
    logger.info(
        "uploaded %d files (%.1f MiB), skipped %d unchanged: %s",
        len(result.uploaded), result.bytes_sent / MiB, len(result.skipped), result.reference,
    )  # fmt: skip
    return result.reference
