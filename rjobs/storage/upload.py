"""Upload local data to Azure Blob Storage, sending only what changed (by MD5).

Engine layer: no Prefect, no terminal output. A re-run skips every blob whose stored MD5 matches the
local file, so an interrupted upload resumes by running it again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import mimetypes
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient, BlobServiceClient, ContainerClient, ContentSettings

from rjobs.storage import local_files
from rjobs.storage.errors import UploadError, error_code_of, is_transient, not_permitted, upload_error
from rjobs.storage.local_files import LocalFile, MiB, collect_files
from rjobs.storage.locations import build_reference, check_container_name, normalize_prefix, public_url
from rjobs.storage.redaction import first_line, install_log_redaction

__all__ = ["DEFAULT_BLOCK_SIZE", "MiB", "ProgressCallback", "UploadError", "UploadResult", "upload"]

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_SIZE = 4 * MiB
MAX_BLOCK_SIZE = 4000 * MiB
MAX_BLOCKS_PER_BLOB = 50_000

ProgressCallback = Callable[[int, int], None]
"""Called as (bytes_sent, bytes_to_send), first with 0 before anything is sent; from worker threads."""

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class UploadResult:
    """What an upload did; `reference` is what a job input points at."""

    reference: str
    uploaded: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_sent: int


def upload(
    client: BlobServiceClient,
    path: str | os.PathLike[str],
    container: str,
    prefix: str = "",
    *,
    datastore: str | None = None,
    max_concurrency: int = 4,
    max_file_concurrency: int = 4,
    block_size: int = DEFAULT_BLOCK_SIZE,
    file_attempts: int = 3,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadResult:
    """Upload a file to `prefix/<name>` or a folder's tree under `prefix/`, skipping unchanged blobs.

    Files up to `block_size` go in one request; larger ones in `block_size` blocks, `max_concurrency`
    at a time, committed with their MD5, so a half-sent blob never looks complete.
    """
    check_container_name(container)
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise ValueError(f"block_size must be between 1 and {MAX_BLOCK_SIZE} bytes")
    if max_concurrency < 1 or max_file_concurrency < 1 or file_attempts < 1:
        raise ValueError("max_concurrency, max_file_concurrency and file_attempts must be >= 1")
    install_log_redaction()
    prefix = normalize_prefix(prefix)
    files, is_folder = collect_files(Path(path), prefix)
    reference = build_reference(
        client.url, container, prefix if is_folder else files[0].blob, is_folder=is_folder, datastore=datastore
    )
    uploader = _Uploader(client, container, block_size, max_concurrency, file_attempts, progress, sleep)
    try:
        list_prefix = (f"{prefix}/" if prefix else "") if is_folder else files[0].blob
        return uploader.run(files, max_file_concurrency, list_prefix=list_prefix, reference=reference)
    except AzureError as exc:
        raise upload_error(exc, client, container) from None


def _block_id(index: int) -> str:
    """Fixed-length ids: Azure rejects a blob whose uncommitted blocks have ids of mixed length."""
    return base64.b64encode(f"{index:032d}".encode()).decode()


def _content_settings(name: str, md5: bytes) -> ContentSettings:
    """Content type guessed from the name, and the MD5 a later run compares to skip the file."""
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return ContentSettings(content_type=content_type, content_md5=bytearray(md5))


def _run_bounded(fn: Callable[[_T], _R], items: list[_T], workers: int) -> list[_R]:
    """Map fn over items on at most `workers` threads; on the first failure cancel the rest, re-raise."""
    if workers == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures: list[Future[_R]] = [pool.submit(fn, item) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f.exception() for f in done if f.exception() is not None), None)
        if failed is not None:
            for future in pending:
                future.cancel()
            raise failed
        return [future.result() for future in futures]


class _Uploader:
    """One upload's shared state: the container, progress accounting and the per-file restarts."""

    def __init__(
        self,
        client: BlobServiceClient,
        container: str,
        block_size: int,
        max_concurrency: int,
        file_attempts: int,
        progress: ProgressCallback | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.container_name = container
        self.container: ContainerClient = client.get_container_client(container)
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self.file_attempts = file_attempts
        self.progress = progress
        self.sleep = sleep
        self._lock = threading.Lock()
        self._sent = 0
        self._total = 0

    def run(self, files: list[LocalFile], file_workers: int, *, list_prefix: str, reference: str) -> UploadResult:
        """Ensure the container, then send every file whose stored size and MD5 don't match it.

        Only files with a same-size stored twin are hashed up front; the rest are hashed as they are sent.
        """
        self.ensure_container()
        remote = self._remote_md5s(list_prefix)
        twins = [f for f in files if remote.get(f.blob, (-1, None))[0] == f.size and remote[f.blob][1]]
        hashes = _run_bounded(lambda f: local_files.md5_of_file(f.path), twins, file_workers)
        local = dict(zip((f.blob for f in twins), hashes, strict=True))
        todo = [f for f in files if f.blob not in local or local[f.blob] != remote[f.blob][1]]
        skipped = tuple(f.rel for f in files if f.blob in local and local[f.blob] == remote[f.blob][1])
        self._total = sum(f.size for f in todo)
        logger.info(
            "uploading %d of %d files (%d bytes) to %s/%s; %d unchanged",
            len(todo), len(files), self._total, public_url(self.client.url).rstrip("/"), self.container_name,
            len(skipped),
        )  # fmt: skip
        self._report(0)
        _run_bounded(self._send, todo, file_workers)
        return UploadResult(
            reference=reference, uploaded=tuple(f.rel for f in todo), skipped=skipped, bytes_sent=self._total
        )

    def ensure_container(self) -> None:
        """Create the container when missing; a rival creating it first, or a SAS that may not look, is fine."""
        try:
            self.container.get_container_properties()
            return
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if not not_permitted(exc):
                raise
            logger.info("this credential may not read container %s: assuming it exists", self.container_name)
            return
        try:
            self.container.create_container()
            account = self.client.account_name or "?"
            logger.info("created container %s in storage account %s", self.container_name, account)
        except ResourceExistsError:
            pass
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise upload_error(exc, self.client, self.container_name, creating=True) from None
            raise

    def _remote_md5s(self, list_prefix: str) -> dict[str, tuple[int, bytes | None]]:
        """Size and stored MD5 of every blob under the prefix, in one paged listing; empty if not allowed."""
        found: dict[str, tuple[int, bytes | None]] = {}
        try:
            for props in self.container.list_blobs(name_starts_with=list_prefix or None):
                md5 = props.content_settings.content_md5
                found[props.name] = (props.size, bytes(md5) if md5 else None)
        except HttpResponseError as exc:
            if not not_permitted(exc):
                raise
            logger.warning(
                "this credential may not list container %s (%s): every file is sent, none can be skipped",
                self.container_name, error_code_of(exc),
            )  # fmt: skip
            return {}
        return found

    def _report(self, delta: int) -> None:
        if self.progress is None:
            return
        with self._lock:
            self._sent += delta
            self.progress(self._sent, self._total)

    def _send(self, file: LocalFile) -> None:
        """Send one file, restarting it whole on a transient error the pipeline's retries didn't absorb."""
        for attempt in range(1, self.file_attempts + 1):
            counted = [0]
            try:
                self._send_once(file, counted)
                logger.debug("uploaded %s (%d bytes)", file.blob, file.size)
                return
            except AzureError as exc:
                self._report(-counted[0])
                if attempt == self.file_attempts or not is_transient(exc):
                    raise
                delay = 2.0 ** (attempt - 1)
                logger.warning(
                    "retrying %s in %.0fs after %s (attempt %d of %d)",
                    file.blob, delay, first_line(exc), attempt + 1, self.file_attempts,
                )  # fmt: skip
                self.sleep(delay)

    def _send_once(self, file: LocalFile, counted: list[int]) -> None:
        """The stored MD5 is always that of the bytes sent, even if the file changes meanwhile."""
        blob = self.container.get_blob_client(file.blob)
        if file.size <= self.block_size:
            data = file.path.read_bytes()
            settings = _content_settings(file.rel, hashlib.md5(data, usedforsecurity=False).digest())
            blob.upload_blob(data, length=len(data), overwrite=True, content_settings=settings, max_concurrency=1)
            counted[0] += len(data)
            self._report(len(data))
            return
        self._send_blocks(blob, file, counted)

    def _send_blocks(self, blob: BlobClient, file: LocalFile, counted: list[int]) -> None:
        """Read and hash blocks in order while at most max_concurrency are staged at once, then commit with the MD5.

        Staged blocks stay invisible until the commit, so an interrupted upload never leaves a matching MD5.
        """
        block_size = max(self.block_size, math.ceil(file.size / MAX_BLOCKS_PER_BLOB))
        digest = hashlib.md5(usedforsecurity=False)
        ids: list[str] = []
        futures: list[Future[None]] = []
        slots = threading.Semaphore(self.max_concurrency)
        failed = threading.Event()

        def stage(block_id: str, chunk: bytes) -> None:
            try:
                blob.stage_block(block_id, chunk, length=len(chunk))
            except BaseException:
                failed.set()
                raise
            finally:
                slots.release()
            with self._lock:
                counted[0] += len(chunk)
            self._report(len(chunk))

        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool, file.path.open("rb") as stream:
            while not failed.is_set() and (chunk := stream.read(block_size)):
                digest.update(chunk)
                ids.append(_block_id(len(ids)))
                slots.acquire()
                futures.append(pool.submit(stage, ids[-1], chunk))
        for future in futures:
            future.result()
        settings = _content_settings(file.rel, digest.digest())
        blob.commit_block_list([BlobBlock(block_id=i) for i in ids], content_settings=settings)
