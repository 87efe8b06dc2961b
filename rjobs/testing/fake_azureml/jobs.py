"""client.jobs: create (validated and serialised as the SDK does), get, list (paged), cancel, download, stream."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from azure.ai.ml.entities import Job
from azure.ai.ml.entities._assets import Code
from azure.ai.ml.entities._job.to_rest_functions import to_rest_job_object
from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, JobException
from azure.core.paging import ItemPaged

from rjobs.testing.fake_azureml.lifecycle import FINAL, TERMINAL
from rjobs.testing.fake_azureml.ops import Ops
from rjobs.testing.fake_azureml.wire import JOB_NAME, DonePoller, http_error


class Jobs(Ops):
    def create_or_update(self, job: Any, **kwargs: Any) -> Job:
        """Validate and serialise as the SDK does; the same name again is a conflict, as on the service."""
        client = self._client
        for key in ("description", "compute", "tags", "experiment_name"):
            if kwargs.get(key) is not None:
                setattr(job, key, kwargs[key])
        if not kwargs.get("skip_validation"):  # the SDK's own local validation, as JobOperations does
            job._validate(raise_error=True)
        to_rest_job_object(job)
        self._resolve_code(job)
        late = client._request("jobs.create_or_update", job.name, skip_validation=bool(kwargs.get("skip_validation")))
        if not job.name or not JOB_NAME.fullmatch(job.name):
            raise http_error(400, f"invalid job name {job.name!r}")
        if job.name in client._jobs:
            raise http_error(409, f"a job named {job.name} already exists")
        self._check_environment(job)
        rest = to_rest_job_object(job).as_dict()
        client._sequence += 1
        record = {
            "rest": rest,
            "created": client.clock.now,
            "seq": client._sequence,
            "final": None,
            "cancel_at": None,
            "exit_code": None,
        }
        record.update(client.planner.plan(job.name, client.clock.now))
        if client.planner.cluster is not None:
            client.clock.advance(client.planner.cluster.submit_s)
        client._jobs[job.name] = record
        client._job_created(record)
        client._save()
        if late:
            raise client._fault_error("jobs.create_or_update", late, None)
        return client._job_entity(record)

    def _resolve_code(self, job: Any) -> None:
        """A local code folder is uploaded per job, as the SDK does: counted, because it's the race we avoid."""
        code = getattr(job, "code", None)
        if not code or str(code).startswith(("/subscriptions/", "azureml:")):
            if code and str(code).startswith("azureml:") and not str(code).startswith("azureml://"):
                name, _, version = str(code)[len("azureml:") :].partition(":")
                if version not in self._client._assets["codes"].get(name, {}):
                    raise http_error(404, f"code {code} not found")
            elif code:
                parts = str(code).split("/")
                if parts[-1] not in self._client._assets["codes"].get(parts[-3], {}):
                    raise http_error(404, f"code {code} not found")
            return
        path = Path(str(code))
        if not path.is_absolute():
            path = Path(job._base_path or ".") / path
        self._client.calls.append(("code.upload", job.name, {"path": str(path)}))
        created = self._client.code._register(Code(name=f"anon-{job.name}", version="1", path=str(path)))
        job.code = created.id

    def _check_environment(self, job: Any) -> None:
        environment = str(job.environment or "")
        if not environment:
            raise http_error(400, "the job has no environment")
        if environment.startswith(("azureml://", "azureml:AzureML-")):
            return
        body = environment[len("azureml:") :] if environment.startswith("azureml:") else environment
        if body.startswith("/subscriptions/"):
            parts = body.split("/")
            name, version = parts[-3], parts[-1]
        elif "@" in body:
            name, version = body.split("@", 1)[0], None
        else:
            name, _, version = body.partition(":")
        versions = self._client._assets["environments"].get(name, {})
        if not versions or (version is not None and version not in versions):
            raise http_error(404, f"environment {environment} not found")

    def get(self, name: str) -> Job:
        client = self._client
        client._request("jobs.get", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        return client._job_entity(client._jobs[name])

    def list(
        self,
        *,
        parent_job_name: str | None = None,
        list_view_type: Any = None,
        tag: str | None = None,
        properties: str | None = None,
        **kwargs: Any,
    ) -> ItemPaged[Job]:
        """Newest first, page by page; each page is one request, filtered by tag key and properties name=value."""
        client = self._client
        filters = {"tag": tag, "properties": properties}

        def matches(record: dict[str, Any]) -> bool:
            props = record["rest"]["properties"]
            if tag:
                key, _, value = tag.partition("=")
                tags = props.get("tags") or {}
                if key not in tags or (value and tags[key] != value):
                    return False
            for item in (properties or "").split(","):
                if not item:
                    continue
                key, _, value = item.partition("=")
                own = props.get("properties") or {}
                if key not in own or (value and own[key] != value):
                    return False
            return True

        def get_next(token: str | None) -> dict[str, Any]:
            with client.lock:
                return next_page(token)

        def next_page(token: str | None) -> dict[str, Any]:
            page = int(token or 0)
            client._request("jobs.list", None, page=page, **filters)
            ordered = sorted(client._jobs.values(), key=lambda r: (-r["created"], -r["seq"]))
            selected = [r for r in ordered if matches(r)]
            size = client.page_size
            return {
                "page": page,
                "records": selected[page * size : (page + 1) * size],
                "more": (page + 1) * size < len(selected),
            }

        def extract(response: dict[str, Any]) -> tuple[str | None, Iterator[Job]]:
            entities = [client._job_entity(r) for r in response["records"]]  # each state read under the lock
            return (str(response["page"] + 1) if response["more"] else None), iter(entities)

        return ItemPaged(get_next, extract)

    def begin_cancel(self, name: str, **kwargs: Any) -> DonePoller:
        client = self._client
        client._request("jobs.begin_cancel", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        if client._state(record) not in FINAL and record.get("cancel_at") is None:
            record["cancel_at"] = client.clock.now
            client._save()
        return DonePoller()

    def download(
        self,
        name: str,
        *,
        download_path: str | os.PathLike[str] = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:
        """Logs and ./outputs under artifacts/, named outputs under named-outputs/, skipping escaping names."""
        client = self._client
        client._request("jobs.download", name, output_name=output_name, all=all)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        state = client._state(record)
        if state not in TERMINAL:
            message = f"This job is in state {state}. Download is allowed only in states {sorted(TERMINAL)}"
            raise JobException(
                message=message,
                no_personal_data_message=message,
                target=ErrorTarget.JOB,
                error_category=ErrorCategory.USER_ERROR,
            )
        destination = Path(download_path)
        if not output_name:
            self._write_tree(destination / "artifacts", self._artifacts(record))
        named = client.store / "named" / name
        if (all or output_name) and named.is_dir():
            for folder in sorted(named.iterdir()):
                if output_name and folder.name != output_name:
                    continue
                entries = {p.relative_to(folder).as_posix(): {"path": str(p)} for p in folder.rglob("*") if p.is_file()}
                self._write_tree(destination / "named-outputs" / folder.name, entries)

    def _artifacts(self, record: dict[str, Any]) -> dict[str, dict[str, str]]:
        folder = self._client._artifact_dir(record["rest"]["name"])
        entries: dict[str, dict[str, str]] = {}
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    entries[path.relative_to(folder).as_posix()] = {"path": str(path)}
        entries.update(record.get("artifacts") or {})
        return entries

    @staticmethod
    def _write_tree(destination: Path, entries: Mapping[str, Mapping[str, str]]) -> None:
        """What azure-ai-ml 1.35's blob download does: names resolving outside the destination are skipped."""
        root = destination.resolve()
        for name, entry in sorted(entries.items()):
            target = Path(destination, name).resolve()
            try:
                target.relative_to(root)
            except ValueError:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if "symlink" in entry:
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(entry["symlink"])
            elif "b64" in entry:
                target.write_bytes(base64.b64decode(entry["b64"]))
            else:
                shutil.copyfile(entry["path"], target)

    def stream(self, name: str) -> None:
        """Print the log once the job is terminal, moving the fake clock as the real call would wait."""
        client = self._client
        client._request("jobs.stream", name)
        if name not in client._jobs:
            raise http_error(404, f"job {name} not found")
        record = client._jobs[name]
        while client._state(record) not in TERMINAL:
            client.clock.advance(5.0)
        log = client._artifact_dir(name) / "user_logs" / "std_log.txt"
        print(log.read_text() if log.is_file() else "")
