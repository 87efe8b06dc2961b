"""A running packed job's results mirrored from storage into its local pack folder, so rjobs.packing reads one.

The runner writes into the job's rw_mount output, which Azure writes through to blob storage as each file closes
(progress.log is appended and closed once per line). Each poll reads only the bytes of progress.log not seen yet (a
ranged download from the local copy's size); an item's files (status, logs, outputs) are fetched once its `done`
line is there, which the runner appends only after writing them. Blobs stream to files in chunks (storage.JobStorage),
never whole into memory. A datastore without a key or SAS token (identity access) cannot be streamed: its packs are
mirrored through jobs.download once they are over, with no progress while they run.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rjobs.backends.azureml.calls import ServiceCalls, transient_error
from rjobs.backends.azureml.collect import NAMED_OUTPUTS_DIR, relocate
from rjobs.backends.azureml.packs import PACK_OUTPUT
from rjobs.backends.azureml.storage import JobStorage, output_location
from rjobs.backends.base import JobHandle
from rjobs.packing.items import ITEMS_DIR, PROGRESS_FILE, read_status

log = logging.getLogger(__name__)


class PackMirror:
    """Brings a packed job's progress and item files from its output's blobs into the local pack folder."""

    def __init__(self, calls: ServiceCalls, storage: JobStorage) -> None:
        self.calls = calls
        self.storage = storage

    def sync(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        """progress.log up to date, then the files of `items` (of every item not yet complete locally when None); a
        storage error that may pass (throttling, a 5xx, a dropped connection) is TransientBackendError, which the
        engine retries (what was fetched already stays)."""
        try:
            self._sync(handle, pack_dir, items)
        except Exception as exc:
            transient = transient_error("sync_pack", exc)
            if transient is None:
                raise
            raise transient from exc

    def _sync(self, handle: JobHandle, pack_dir: Path, items: Sequence[str] | None) -> None:
        outputs = handle.data.get("outputs") or {}
        place = output_location(handle.job_name, PACK_OUTPUT, outputs.get(PACK_OUTPUT) or None)
        container = self.storage.container(place[0]) if place is not None else None
        if place is None or container is None:
            if items is None:
                self._download(handle, pack_dir)
            return
        prefix = place[1] if place[1].endswith("/") else place[1] + "/"
        self._append(container, prefix + PROGRESS_FILE, pack_dir / PROGRESS_FILE)
        if items is None:
            complete = self._complete(pack_dir)
            self.storage.fetch(
                container,
                f"{prefix}{ITEMS_DIR}/",
                pack_dir / ITEMS_DIR,
                lambda name: name.split("/")[0] not in complete,
            )
            return
        for item in items:
            self.storage.fetch(container, f"{prefix}{ITEMS_DIR}/{item}/", pack_dir / ITEMS_DIR / item)

    @staticmethod
    def _complete(pack_dir: Path) -> set[str]:
        """Items mirrored complete already (status exit 0), decided before a fetch: not downloaded again."""
        folder = pack_dir / ITEMS_DIR
        names = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
        return {name for name in names if (status := read_status(pack_dir, name)) is not None and status.exit_code == 0}

    @staticmethod
    def _append(container: object, name: str, local: Path) -> None:
        """The blob's bytes past the local copy's length, appended to it: each poll reads only what is new."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        local.parent.mkdir(parents=True, exist_ok=True)
        size = local.stat().st_size if local.is_file() else 0
        try:
            with local.open("ab") as handle:
                container.download_blob(name, offset=size, max_concurrency=1).readinto(handle)  # type: ignore[attr-defined]
        except ResourceNotFoundError:
            return  # the runner has not started yet
        except HttpResponseError as exc:
            if exc.status_code != 416:  # 416: nothing past what we have
                raise

    def _download(self, handle: JobHandle, pack_dir: Path) -> None:
        """The whole output through jobs.download, for a pack that is over, when its storage cannot be streamed; a
        job gone from the workspace brings nothing (its unfinished items run again)."""
        from azure.core.exceptions import ResourceNotFoundError

        pack_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".download-", dir=pack_dir))
        try:
            download = self.calls.ml_client.jobs.download
            try:
                self.calls(
                    "jobs.download", download, handle.job_name, download_path=str(folder), output_name=PACK_OUTPUT
                )
            except ResourceNotFoundError:
                log.warning("packed job %s is gone from the workspace: nothing to bring", handle.job_name)
                return
            refused: list[str] = []
            relocate(folder / NAMED_OUTPUTS_DIR / PACK_OUTPUT, pack_dir, refused)
            for name in refused:
                log.warning("packed job %s: refused %r (a symlink or a name outside its folder)", handle.job_name, name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
