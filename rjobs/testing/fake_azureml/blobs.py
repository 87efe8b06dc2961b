"""The workspace's storage account as the fake service keeps it: uploaded blobs as files, and read-only views of what
jobs leave behind (logs and ./outputs in the artifact store, named outputs in the blob store), so the SDK's real
upload and download code reads and writes the same files the job state machine and the command runner use."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from rjobs.testing.fake_azureml.commands import CommandRunner, LiveCommand
from rjobs.testing.fake_azureml.http import BLOB_HOST
from rjobs.testing.fake_azureml.lifecycle import artifact_dir
from rjobs.testing.fake_azureml.routes_workspace import ARTIFACT_CONTAINER, BLOB_CONTAINER, DATASTORES

if TYPE_CHECKING:
    from rjobs.testing.fake_azureml.client import FakeMLClient

ARTIFACT_PREFIX = re.compile(r"^ExperimentRun/dcid\.(?P<job>[^/]+)/")
NAMED_PREFIX = re.compile(r"^azureml/(?P<job>[^/]+)/")
DATASTORE_URI = re.compile(r"^azureml://(?:subscriptions/.+/)?datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")


@dataclass
class Blob:
    """One blob: its bytes live in a file (`path`) or, for a scripted job artifact, in memory (`data`)."""

    name: str
    path: Path | None = None
    data: bytes | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else (self.path.stat().st_size if self.path else 0)

    @property
    def etag(self) -> str:
        stamp = self.path.stat().st_mtime_ns if self.path is not None else 0
        digest = hashlib.sha1(f"{self.name}:{self.size}:{stamp}".encode()).hexdigest()[:16].upper()
        return f'"0x{digest}"'

    def open(self, start: int = 0, end: int | None = None) -> IO[bytes]:
        """A stream of bytes [start, end), read as the client reads it: a large blob is never whole in memory."""
        stop = self.size if end is None else min(end, self.size)
        if self.data is not None:
            return io.BytesIO(self.data[start:stop])
        assert self.path is not None
        handle = self.path.open("rb")
        handle.seek(start)
        return io.BufferedReader(FileRange(handle, max(0, stop - start)))


class FileRange(io.RawIOBase):
    """At most `length` bytes of an open file, from where it stands; closes the file when closed."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self.handle = handle
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self.remaining]
        count = self.handle.readinto(view)
        self.remaining -= count
        return count

    def close(self) -> None:
        self.handle.close()
        super().close()


class BlobStore:
    """Containers of the fake storage account. Callers hold the workspace's lock."""

    def __init__(self, workspace: FakeMLClient) -> None:
        self.workspace = workspace
        self.root = workspace.store / "blobs"
        self.metadata_root = workspace.store / "blob-metadata"
        self.blocks: dict[tuple[str, str], dict[str, bytes]] = {}

    # -- stored blobs ---------------------------------------------------------------------------------------------

    def file(self, container: str, name: str) -> Path:
        return self.root / container / name

    def write(self, container: str, name: str, data: bytes, metadata: Mapping[str, str]) -> None:
        target = self.file(container, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.set_metadata(container, name, metadata)

    def set_metadata(self, container: str, name: str, metadata: Mapping[str, str]) -> None:
        target = self.metadata_root / container / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(dict(metadata)))

    def _metadata(self, container: str, name: str) -> dict[str, str]:
        source = self.metadata_root / container / f"{name}.json"
        return json.loads(source.read_text()) if source.is_file() else {}

    # -- reading: stored blobs, and the views of job results --------------------------------------------------------

    def get(self, container: str, name: str) -> Blob | None:
        stored = self.file(container, name)
        if stored.is_file() and not stored.is_symlink():
            return Blob(name, path=stored, metadata=self._metadata(container, name))
        for blob in self._views(container, name):
            if blob.name == name:
                return blob
        return None

    def list(self, container: str, prefix: str = "") -> list[Blob]:
        found = {blob.name: blob for blob in self._views(container, prefix) if blob.name.startswith(prefix)}
        stored = self.root / container
        for path in walk(stored / prefix.rpartition("/")[0]):
            name = path.relative_to(stored).as_posix()
            if name.startswith(prefix):
                found[name] = Blob(name, path=path, metadata=self._metadata(container, name))
        return [found[name] for name in sorted(found)]

    def _views(self, container: str, prefix: str) -> Iterator[Blob]:
        """Job results that may start with `prefix`: walks only the jobs' folders the prefix can reach."""
        store = self.workspace.store
        if container == ARTIFACT_CONTAINER:
            match = ARTIFACT_PREFIX.match(prefix)
            jobs = [match.group("job")] if match else self._job_folders(store / "artifacts")
            for job in jobs:
                yield from self._job_artifacts(job)
        if container == BLOB_CONTAINER:
            match = NAMED_PREFIX.match(prefix)
            jobs = [match.group("job")] if match else self._job_folders(store / "named")
            for job in jobs:
                if job in self.workspace._jobs:
                    self.workspace._state(self.workspace._jobs[job])
                folder = store / "named" / job
                for path in walk(folder):
                    yield Blob(f"azureml/{job}/{path.relative_to(folder).as_posix()}", path=path)

    @staticmethod
    def _job_folders(folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def _job_artifacts(self, job: str) -> Iterator[Blob]:
        """A job's logs and ./outputs; scripted artifacts appear once the job is finished, as uploads would."""
        folder = artifact_dir(self.workspace.store, job)
        prefix = f"ExperimentRun/dcid.{job}/"
        scripted: dict[str, bytes] = {}
        record = self.workspace._jobs.get(job)
        if record is not None:
            self.workspace._state(record)  # the job moves on the clock whether or not anyone asked for its state
        if record is not None and record.get("final") is not None:
            for key, entry in (record.get("artifacts") or {}).items():
                if "b64" in entry:
                    scripted[key] = base64.b64decode(entry["b64"])
        for path in walk(folder):
            relative = path.relative_to(folder).as_posix()
            if relative not in scripted:
                yield Blob(prefix + relative, path=path)
        for key, data in scripted.items():
            yield Blob(prefix + key, data=data)

    # -- where a URI's blobs are on this machine ------------------------------------------------------------------

    def local_path(self, uri: str) -> str | None:
        """The local file or folder behind a blob URL or datastore URI of this account; None for other URIs."""
        found = DATASTORE_URI.match(uri)
        if found and found.group("store") in DATASTORES:
            return str(self.file(DATASTORES[found.group("store")], found.group("path").rstrip("/")))
        https = f"https://{BLOB_HOST}/"
        if uri.startswith(https):
            container, _, name = uri[len(https) :].split("?", 1)[0].partition("/")
            return str(self.file(container, name.rstrip("/")))
        return None


def walk(folder: Path) -> Iterator[Path]:
    """Regular files under folder (symlinks are not blobs)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


class LocalizingCommandRunner(CommandRunner):
    """The workspace's command runner for jobs created over HTTP: asset URIs (blob URLs, datastore paths) become
    the local files the fake storage holds, so the inner runner runs the job as it runs operation-level ones."""

    def __init__(self, inner: CommandRunner, blobs: BlobStore) -> None:
        super().__init__(inner.store, inner.rscript_env, inner.timeout)
        self.inner = inner
        self.blobs = blobs

    def start(self, record: dict[str, Any], assets: Any) -> LiveCommand | str:
        local_assets = {kind: versions for kind, versions in assets.items()}
        for kind, key in (("data", "dataUri"), ("codes", "codeUri")):
            local_assets[kind] = copy.deepcopy(assets[kind])
            for versions in local_assets[kind].values():
                for rest in versions.values():
                    uri = str(rest.get("properties", {}).get(key) or "")
                    rest["properties"][key] = self.blobs.local_path(uri) or uri
        local_record = dict(record)
        local_record["rest"] = copy.deepcopy(record["rest"])
        for value in (local_record["rest"]["properties"].get("inputs") or {}).values():
            if isinstance(value, dict) and value.get("uri"):
                value["uri"] = self.blobs.local_path(str(value["uri"])) or value["uri"]
        return self.inner.start(local_record, local_assets)
