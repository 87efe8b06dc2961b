"""Running a job's command on this machine, as Azure ML would run it: inputs substituted into the command text, the
result through bash, in a copy of the job's code; ./outputs kept as the job's artifacts."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rjobs.testing.fake_azureml.lifecycle import artifact_dir
from rjobs.testing.fake_azureml.mounts import READ_WRITE_MOUNT, mount_dir, sync_mount

PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Assets = Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]


@dataclass
class LiveCommand:
    """A job's command running in the background (its own session, so a cancel stops R too), with its log open and
    its rw_mount outputs to sync."""

    name: str
    proc: subprocess.Popen[bytes]
    log: BinaryIO
    work: Path
    artifacts: Path
    mounts: dict[Path, Path]
    deadline: float
    timed_out: bool = False

    def running(self, wait: float = 0.0) -> bool:
        """Whether the command still runs, after waiting up to `wait` real seconds for it (a poll of a running
        job lets it move, as the fake clock moving would on the service); past the fake's timeout it is killed."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=wait) if wait > 0 else self.proc.poll()
        if self.proc.returncode is None and time.monotonic() > self.deadline:
            self.log.write(b"\nfake azureml: command timed out\n")
            self.timed_out = True
            self.kill()
        return self.proc.returncode is None

    def sync(self) -> None:
        for mount, blobs in self.mounts.items():
            sync_mount(mount, blobs)

    def kill(self) -> None:
        """SIGKILL the command's whole session (a node stopped by a cancel) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class CommandRunner:
    """Runs one job's command (bounded by `timeout`) and says Completed or Failed: to its end in one call (run), or
    in the background (start, then finish once it ended) so a job's mounted outputs show while it runs."""

    def __init__(self, store: Path, rscript_env: Mapping[str, str], timeout: float) -> None:
        self.store = store
        self.rscript_env = dict(rscript_env)
        self.timeout = timeout

    def run(self, record: dict[str, Any], assets: Assets) -> str:
        """The job's outcome; its log and outputs land where the service would keep them, its exit code in record."""
        live = self.start(record, assets)
        if isinstance(live, str):
            return live
        while live.running(wait=0.05):
            pass
        return self.finish(record, live)

    def start(self, record: dict[str, Any], assets: Assets) -> LiveCommand | str:
        """The command started in a copy of the job's code; the outcome instead when the job cannot be prepared."""
        rest = record["rest"]
        name, properties = rest["name"], rest["properties"]
        artifacts = artifact_dir(self.store, name)
        work = self.store / "runs" / name
        if work.exists():
            shutil.rmtree(work)
        log_path = artifacts / "user_logs" / "std_log.txt"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            code = code_path(properties.get("codeId"), assets)
            if code is not None:
                shutil.copytree(code, work)
            else:
                work.mkdir(parents=True)
            inputs = {k: resolve_input(v, assets) for k, v in (properties.get("inputs") or {}).items()}
        except (FileNotFoundError, KeyError, OSError) as exc:
            log_path.write_text(f"fake azureml: cannot prepare the job: {exc}\n")
            return "Failed"
        outputs, mounts = {}, {}
        for output, settings in (properties.get("outputs") or {}).items():
            named = self.store / "named" / name / output
            named.mkdir(parents=True, exist_ok=True)
            folder = named
            if (settings or {}).get("mode") == READ_WRITE_MOUNT:
                folder = mount_dir(self.store, name, output)
                folder.mkdir(parents=True, exist_ok=True)
                mounts[folder] = named
            outputs[output] = str(folder)

        def substitute(match: re.Match[str]) -> str:
            table = inputs if match.group(1) == "inputs" else outputs
            return table.get(match.group(2), match.group(0))

        command = PLACEHOLDER.sub(substitute, str(properties["command"]))
        environment = {**os.environ, **self.rscript_env, **(properties.get("environmentVariables") or {})}
        environment["AZUREML_RUN_ID"] = name
        (work / "outputs").mkdir(exist_ok=True)
        log = log_path.open("wb")
        proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=work,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return LiveCommand(name, proc, log, work, artifacts, mounts, time.monotonic() + self.timeout)

    def finish(self, record: dict[str, Any], live: LiveCommand) -> str:
        """After the command ended (or was killed): mounts synced a last time, ./outputs kept as artifacts."""
        if live.proc.returncode is None:
            live.kill()
        live.log.close()
        live.sync()
        code_returned = -1 if live.timed_out else live.proc.returncode
        record["exit_code"] = code_returned
        if (live.work / "outputs").is_dir():
            shutil.copytree(live.work / "outputs", live.artifacts / "outputs", dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(live.work, ignore_errors=True)
        for mount in live.mounts:
            shutil.rmtree(mount, ignore_errors=True)
        return "Completed" if code_returned == 0 else "Failed"


def resolve_input(value: Mapping[str, Any], assets: Assets) -> str:
    """A job input as the command sees it: a literal's text, or the local path of a data asset or absolute URI."""
    if value.get("jobInputType") == "literal":
        return str(value.get("value", ""))
    uri = str(value.get("uri", ""))
    if uri.startswith("/subscriptions/") and "/data/" in uri:  # the SDK sends a data asset as its bare ARM id
        uri = "azureml:" + uri
    if uri.startswith("azureml:") and not uri.startswith("azureml://"):
        body = uri[len("azureml:") :]
        if body.startswith("/subscriptions/"):
            parts = body.split("/")
            name, version = parts[-3], parts[-1]
        else:
            name, _, version = body.partition(":")
        asset = assets["data"].get(name, {}).get(version)
        if asset is None:
            raise FileNotFoundError(f"data asset {body} does not exist")
        return str(asset["properties"]["dataUri"])
    if os.path.isabs(uri):
        return uri
    raise FileNotFoundError(f"the fake cannot mount {uri}")


def code_path(code_id: str | None, assets: Assets) -> Path | None:
    """Where the fake stored the job's code asset, from its ARM id or azureml:name:version."""
    if not code_id:
        return None
    parts = code_id.rstrip("/").split("/")
    name, version = (parts[-3], parts[-1]) if code_id.startswith("/subscriptions/") else code_id.split(":")[-2:]
    asset = assets["codes"][name][version]
    return Path(asset["properties"]["codeUri"])
