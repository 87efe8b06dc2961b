"""Bringing a job's outputs and user log into its cell folder. What the service names is untrusted: downloads land in
a fresh folder inside the cell folder, and only regular files whose names stay inside it are moved out of there
(moved, never read: a symlink, FIFO, device or socket in a download is refused with a warning, never followed).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.backends.azureml.storage import ARTIFACT_STORE, JobStorage, artifacts_prefix, output_location
from rjobs.backends.base import JobHandle
from rjobs.core.files import LOG_FILE, OUTPUTS_DIR

log = logging.getLogger(__name__)

ARTIFACTS_DIR = "artifacts"
NAMED_OUTPUTS_DIR = "named-outputs"
USER_LOGS = ("user_logs/std_log.txt", "azureml-logs/70_driver_log.txt")
IMAGE_BUILD_LOG = "azureml-logs/20_image_build_log"
"""The service builds an environment's image when the first job uses it; a failed build leaves only this log."""


def safe_target(root: Path, name: str) -> Path | None:
    """root/name if that stays inside root; None for '..', absolute or drive names, or a symlinked parent."""
    if not name or "\0" in name:
        return None
    posix, windows = PurePosixPath(name.replace("\\", "/")), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts:
        return None
    target = root / posix
    try:
        target.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return target


def clear(path: Path) -> None:
    """Remove a file, a symlink (never its target) or a folder tree."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def relocate(source: Path, target: Path, refused: list[str]) -> int:
    """Move regular files from source into target; symlinks and escaping names are refused and listed."""
    moved = 0
    if source.is_symlink():
        refused.append(str(source))
        return 0
    if not source.is_dir():
        return 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        for name in list(dirs):
            if (here / name).is_symlink():
                refused.append((here / name).relative_to(source).as_posix())
                dirs.remove(name)
        for name in files:
            path = here / name
            relative = path.relative_to(source).as_posix()
            destination = safe_target(target, relative)
            if path.is_symlink() or not path.is_file() or destination is None:
                refused.append(relative)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.is_dir():
                clear(destination)
            os.replace(path, destination)
            moved += 1
    return moved


def is_log(relative: str) -> bool:
    """A user log place_log would take."""
    return relative in USER_LOGS or (relative.startswith("user_logs/std_log") and relative.endswith(".txt"))


def place_log(artifacts: Path, cell_dir: Path, refused: list[str]) -> Path | None:
    """Move the job's user log from a download to cell_dir/std_log.txt; None when the download has none."""
    candidates = [artifacts / name for name in USER_LOGS]
    candidates += sorted((artifacts / "user_logs").glob("std_log*.txt")) if (artifacts / "user_logs").is_dir() else []
    for source in candidates:
        if source.is_symlink() or (source.exists() and not source.is_file()):
            refused.append(source.relative_to(artifacts).as_posix())
            continue
        if source.is_file() and safe_target(artifacts, source.relative_to(artifacts).as_posix()) is not None:
            target = cell_dir / LOG_FILE
            if target.is_symlink() or target.is_dir():
                clear(target)
            os.replace(source, target)
            return target
    return None


def is_collected(relative: str) -> bool:
    """The artifacts a collect brings: ./outputs and the user log, never the rest of the job's artifacts."""
    return relative.startswith(f"{OUTPUTS_DIR}/") or is_log(relative)


class JobCollector:
    """Streams a job's files from the workspace's storage (storage.JobStorage), or downloads them through
    jobs.download where it cannot, and sandboxes the result; remembers which logs it already placed."""

    def __init__(self, calls: ServiceCalls, storage: JobStorage | None = None) -> None:
        self.calls = calls
        self.storage = storage
        self._logs_for: set[str] = set()

    def _download(self, handle: JobHandle, cell_dir: Path, *, logs_only: bool = False, build: bool = False) -> Path:
        """Fetch into a fresh folder inside cell_dir, so nothing the service names lands elsewhere."""
        cell_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".download-", dir=cell_dir))
        try:
            if not self._stream(handle, folder, logs_only, build):
                download = self.calls.ml_client.jobs.download
                options = {} if logs_only else {"all": True}
                self.calls("jobs.download", download, handle.job_name, download_path=str(folder), **options)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    def _stream(self, handle: JobHandle, folder: Path, logs_only: bool, build: bool = False) -> bool:
        """The job's files straight from storage, laid out as jobs.download lays them out; False when the storage or
        an output's place is unknown (the caller downloads through the SDK instead)."""
        outputs = handle.data.get("outputs")
        if self.storage is None or (not logs_only and not isinstance(outputs, dict)):
            return False
        artifacts = self.storage.container(ARTIFACT_STORE)
        places = (
            {} if logs_only else {name: output_location(handle.job_name, name, uri) for name, uri in outputs.items()}
        )
        if artifacts is None or any(place is None for place in places.values()):
            return False
        containers = {name: self.storage.container(place[0]) for name, place in places.items() if place}
        if any(container is None for container in containers.values()):
            return False
        prefix = artifacts_prefix(handle.job_name)
        if build:
            self.storage.fetch(artifacts, prefix + IMAGE_BUILD_LOG, folder / ARTIFACTS_DIR / IMAGE_BUILD_LOG)
            return True
        if logs_only:
            target = folder / ARTIFACTS_DIR
            if not self.storage.fetch_one(artifacts, prefix + USER_LOGS[0], target, USER_LOGS[0]):
                self.storage.fetch(artifacts, prefix, target, lambda name: name != USER_LOGS[0] and is_log(name))
            return True
        self.storage.fetch(artifacts, prefix, folder / ARTIFACTS_DIR, is_collected)
        for name, place in places.items():
            assert place is not None
            self.storage.fetch(containers[name], place[1], folder / NAMED_OUTPUTS_DIR / name)
        return True

    def collect(self, handle: JobHandle, cell_dir: Path) -> Path:
        """Fetch logs and outputs, then move ./outputs and named outputs into cell_dir/outputs, checked."""
        folder = self._download(handle, cell_dir)
        refused: list[str] = []
        outputs = cell_dir / OUTPUTS_DIR
        try:
            if outputs.exists() or outputs.is_symlink():
                clear(outputs)
            outputs.mkdir(parents=True)
            relocate(folder / ARTIFACTS_DIR / OUTPUTS_DIR, outputs, refused)
            named = folder / NAMED_OUTPUTS_DIR
            if named.is_dir() and not named.is_symlink():
                for child in sorted(named.iterdir()):
                    target = safe_target(outputs, child.name)
                    if target is None or child.is_symlink():
                        refused.append(f"{NAMED_OUTPUTS_DIR}/{child.name}")
                        continue
                    relocate(child, target, refused)
            if place_log(folder / ARTIFACTS_DIR, cell_dir, refused) is not None:
                self._logs_for.add(handle.job_name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name in refused:
            log.warning(
                "job %s: refused to collect %r (a symlink, FIFO, device or socket, or a name outside the cell folder)",
                handle.job_name,
                name,
            )
        return outputs

    def logs(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The user log (std_log.txt), downloaded once; None while the job is not terminal or has none."""
        from azure.ai.ml.exceptions import JobException

        target = cell_dir / LOG_FILE
        if handle.job_name in self._logs_for and target.is_file():
            return target
        try:
            folder = self._download(handle, cell_dir, logs_only=True)
        except JobException:
            return None
        refused: list[str] = []
        try:
            placed = place_log(folder / ARTIFACTS_DIR, cell_dir, refused)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for name in refused:
            log.warning("job %s: refused log %r", handle.job_name, name)
        if placed is not None:
            self._logs_for.add(handle.job_name)
        return placed

    def image_build_log(self, handle: JobHandle, cell_dir: Path) -> Path | None:
        """The image build's log of a job that failed before its code ran, at cell_dir/image_build_log.txt; None
        when the job has none."""
        from azure.ai.ml.exceptions import JobException

        try:
            folder = self._download(handle, cell_dir, logs_only=True, build=True)
        except JobException:
            return None
        try:
            found = sorted(p for p in (folder / ARTIFACTS_DIR).rglob("*") if p.is_file() and not p.is_symlink())
            logs = [p for p in found if IMAGE_BUILD_LOG in p.relative_to(folder / ARTIFACTS_DIR).as_posix()]
            if not logs:
                return None
            target = cell_dir / "image_build_log.txt"
            os.replace(logs[0], target)
            return target
        finally:
            shutil.rmtree(folder, ignore_errors=True)
