"""A job's logs and outputs streamed straight from the workspace's storage, blob by blob to files.

`jobs.download` costs 6-8 control-plane requests per job (job get twice, run history, datastore list, get and secrets
on every call) and reads each blob whole into memory. Where a job's files live is documented and fixed: logs and
./outputs under `ExperimentRun/dcid.<job>/` in `workspaceartifactstore`, a named output without a path under
`azureml/<job>/<output>/` in the default datastore (the SDK's own `_get_named_output_uri` searches the same path), an
explicit `azureml://datastores/<store>/paths/<path>` where it says. So each datastore is looked up once per backend
(get and secrets) and a collect costs the control plane nothing; blobs arrive in chunks of CHUNK bytes, so memory is
bounded whatever the output's size. A datastore without a key or SAS token (identity access) gives None: the caller
then uses `jobs.download`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rjobs.backends.azureml.calls import ServiceCalls

log = logging.getLogger(__name__)

ARTIFACT_STORE = "workspaceartifactstore"
CHUNK = 4 * 1024 * 1024
DATASTORE_PATH = re.compile(r"^azureml://(?:.*/)?datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$")
DEFAULT = ""
"""The key of the default datastore in the cache."""


def artifacts_prefix(job_name: str) -> str:
    """Where the service keeps a job's logs and ./outputs in the artifact store."""
    return f"ExperimentRun/dcid.{job_name}/"


def output_location(job_name: str, output: str, uri: str | None) -> tuple[str, str] | None:
    """(datastore, prefix) of a named output: the documented default path when the job gave none, the datastore path
    it gave (with ${{name}} and ${{output_name}} filled in), None for any other URI."""
    if not uri:
        return DEFAULT, f"azureml/{job_name}/{output}/"
    text = uri.replace("${{name}}", job_name).replace("${{output_name}}", output)
    found = DATASTORE_PATH.match(text)
    if found is None or "${{" in text:
        return None
    store = found.group("store")
    return (DEFAULT if store == "${{default_datastore}}" else store), found.group("path")


class JobStorage:
    """Container clients for the workspace's datastores, each looked up once; `storage_options` go to every storage
    client (a transport, retry settings)."""

    def __init__(self, calls: ServiceCalls, storage_options: Mapping[str, Any] | None = None) -> None:
        self.calls = calls
        self.storage_options = dict(storage_options or {})
        self._containers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def container(self, datastore: str) -> Any | None:
        """The ContainerClient for a datastore (DEFAULT: the default one); None when it has no key or SAS token."""
        with self._lock:
            if datastore not in self._containers:
                self._containers[datastore] = self._connect(datastore)
            return self._containers[datastore]

    def _connect(self, datastore: str) -> Any | None:
        from azure.storage.blob import ContainerClient

        operations = getattr(self.calls.ml_client, "datastores", None)
        if operations is None:  # a client without datastore operations (the operation-level fake)
            return None
        if datastore == DEFAULT:
            found = self.calls("datastores.get_default", operations.get_default, include_secrets=True)
        else:
            found = self.calls("datastores.get", operations.get, datastore, include_secrets=True)
        credentials = getattr(found, "credentials", None)
        secret = getattr(credentials, "account_key", None) or getattr(credentials, "sas_token", None)
        if not getattr(found, "account_name", None) or not secret:
            log.info("datastore %s has no key or SAS token: jobs are downloaded through the SDK", found.name)
            return None
        url = f"{found.protocol or 'https'}://{found.account_name}.blob.{found.endpoint or 'core.windows.net'}"
        options = {"max_single_get_size": CHUNK, "max_chunk_get_size": CHUNK, **self.storage_options}
        return ContainerClient(url, found.container_name, credential=secret, **options)

    def fetch(self, container: Any, prefix: str, target: Path, wanted: Callable[[str], bool] = lambda _: True) -> int:
        """Stream every wanted blob under prefix into target/<name after prefix>; returns how many. Names are the
        service's: the caller sandboxes what lands (collect.relocate), and a name that would leave target is skipped."""
        count = 0
        for blob in container.list_blobs(name_starts_with=prefix):
            relative = blob.name[len(prefix) :]
            if not relative or relative.endswith("/") or not wanted(relative):
                continue
            if self.fetch_one(container, blob.name, target, relative):
                count += 1
        return count

    @staticmethod
    def fetch_one(container: Any, name: str, target: Path, relative: str) -> bool:
        """One blob into target/relative, chunk by chunk; False when it does not exist or its name escapes."""
        from azure.core.exceptions import ResourceNotFoundError

        destination = (target / relative).resolve()
        try:
            destination.relative_to(target.resolve())
        except ValueError:
            log.warning("blob %r names a file outside the download folder: skipped", name)
            return False
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with destination.open("wb") as handle:
                container.download_blob(name, max_concurrency=1).readinto(handle)
        except ResourceNotFoundError:
            destination.unlink(missing_ok=True)
            return False
        return True
