"""Data and code as workspace assets versioned by content: an unchanged folder or file is found, never uploaded again.

Both run once before the fan-out, so they ride out a transient control-plane error through the injected RetryPolicy.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from rjobs.backends.azureml.calls import ServiceCalls
from rjobs.core.errors import InputError
from rjobs.core.hashing import hash_tree
from rjobs.core.naming import slug
from rjobs.core.retry import RetryPolicy
from rjobs.core.snapshot import code_snapshot, copy_snapshot, snapshot_hash
from rjobs.inputs.spec import InputSpec, JobSpec, check_local_files

log = logging.getLogger(__name__)

DATA_ASSET_TYPES = frozenset({"uri_file", "uri_folder", "mltable"})
VERSION_LENGTH = 12

CodeUploader = Callable[[Path, str, str], str]
"""(folder, asset name, version) -> the code asset's id."""
T = TypeVar("T")
RACE_ATTEMPTS = 3


def create_or_adopt(retry: RetryPolicy, operation: str, create: Callable[[], T], get: Callable[[], T]) -> T:
    """Create an asset version that another process may be creating at the same moment (two sweeps sharing data or an
    environment): the loser's upload meets 409 BlobAlreadyExists. Then the winner's version is adopted, or the create
    is tried again, which the SDK makes safe (a confirmed upload is skipped, an unconfirmed one overwritten)."""
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            return retry.call(operation, create)
        except ResourceExistsError:
            if attempt == RACE_ATTEMPTS:
                raise
            log.info("%s: another process is creating the same version; adopting it", operation)
        try:
            return retry.call(operation, get)
        except ResourceNotFoundError:
            continue
    raise AssertionError("unreachable")


class DataAssets:
    """Local data inputs become Data assets named after the experiment and input, versioned by content."""

    def __init__(self, calls: ServiceCalls, retry: RetryPolicy) -> None:
        self.calls = calls
        self.retry = retry

    def ensure(self, spec: JobSpec) -> dict[str, InputSpec]:
        """The job's inputs with every local file or folder replaced by its azureml:<name>:<version> reference."""
        check_local_files(spec)
        bound: dict[str, InputSpec] = {}
        for name, spec_input in spec.inputs.items():
            if not spec_input.is_local:
                bound[name] = spec_input
                continue
            if spec_input.type not in DATA_ASSET_TYPES:
                raise InputError(
                    spec.source,
                    f"inputs.{name}",
                    f"is a local {spec_input.type}",
                    "register the model first and reference it as azureml:<name>:<version>",
                )
            local = spec.local_path(spec_input)
            asset = slug(f"{spec.experiment_name}-{name}" if spec.experiment_name else name, limit=120)
            version = hash_tree(local)[:VERSION_LENGTH]
            description = f"{local.name} for {spec.source.name} (rjobs, content {version})"
            self._register(asset, version, local, spec_input.type, description)
            bound[name] = InputSpec(
                name=name, type=spec_input.type, path=f"azureml:{asset}:{version}", mode=spec_input.mode
            )
        return bound

    def _register(self, asset: str, version: str, local: Path, kind: str, description: str) -> None:
        """Create the asset version unless it exists already."""
        from azure.core.exceptions import ResourceNotFoundError

        data = self.calls.ml_client.data
        try:
            self.retry.call("data.get", lambda: self.calls("data.get", data.get, name=asset, version=version))
            return
        except ResourceNotFoundError:
            pass
        from azure.ai.ml.entities import Data

        entity = Data(name=asset, version=version, path=str(local), type=kind, description=description)
        create_or_adopt(
            self.retry,
            "data.create_or_update",
            lambda: self.calls("data.create_or_update", data.create_or_update, entity),
            lambda: self.calls("data.get", data.get, name=asset, version=version),
        )
        log.info("registered data %s:%s from %s", asset, version, local)


class CodeAssets:
    """The code folder registered once per process as a Code asset versioned by content; jobs reference its id, so
    concurrent first submissions never race on the same upload. Content is the code snapshot (core.snapshot), the
    one the local backend copies and the run name hashes: what is uploaded is a copy of exactly its files."""

    def __init__(self, calls: ServiceCalls, retry: RetryPolicy, uploader: CodeUploader | None = None) -> None:
        self.calls = calls
        self.retry = retry
        self.uploader = uploader or self.upload
        self.ids: dict[Path, str] = {}
        self.exclude: Sequence[Path] = ()
        """Folders the snapshot leaves out when inside the code folder: the sweep's results (set by wiring)."""
        self._lock = threading.Lock()

    def ensure(self, spec: JobSpec) -> str | None:
        """The code asset's id for spec.code, uploading it the first time; None for a job without code."""
        if spec.code is None:
            return None
        with self._lock:
            if spec.code in self.ids:
                return self.ids[spec.code]
        name = slug(f"{spec.experiment}-{spec.code.name}", limit=120)
        snapshot = code_snapshot(spec.code, exclude=self.exclude)
        snapshot.warn()
        version = snapshot_hash(snapshot)[:VERSION_LENGTH]
        reference = self.uploader(spec.code, name, version)
        with self._lock:
            self.ids[spec.code] = reference
        return reference

    def upload(self, path: Path, name: str, version: str) -> str:
        """azure-ai-ml 1.35 has no public code operations; MLClient._code is what jobs.create_or_update uses. The
        upload reads a scratch copy of the snapshot, so the SDK never sees an ignored, special or escaping file."""
        from azure.ai.ml.entities._assets import Code
        from azure.core.exceptions import ResourceNotFoundError

        operations = self.calls.ml_client._code
        try:
            found = self.retry.call(
                "code.get", lambda: self.calls("code.get", operations.get, name=name, version=version)
            )
        except ResourceNotFoundError:
            with tempfile.TemporaryDirectory(prefix="rjobs-code-") as scratch:
                staged = Path(scratch) / path.name
                copy_snapshot(code_snapshot(path, exclude=self.exclude), staged)
                entity = Code(name=name, version=version, path=str(staged))
                found = create_or_adopt(
                    self.retry,
                    "code.create_or_update",
                    lambda: self.calls("code.create_or_update", operations.create_or_update, entity),
                    lambda: self.calls("code.get", operations.get, name=name, version=version),
                )
            log.info("registered code %s:%s from %s", name, version, path)
        return str(found.id or f"azureml:{name}:{version}")
