"""Running a job's command on this machine, as Azure ML would run it: inputs substituted into the command text, the
result through bash, in a copy of the job's code; ./outputs kept as the job's artifacts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rjobs.testing.fake_azureml.lifecycle import artifact_dir

PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

Assets = Mapping[str, Mapping[str, Mapping[str, Mapping[str, Any]]]]


class CommandRunner:
    """Runs one job's command to its end (bounded by `timeout`) and says Completed or Failed."""

    def __init__(self, store: Path, rscript_env: Mapping[str, str], timeout: float) -> None:
        self.store = store
        self.rscript_env = dict(rscript_env)
        self.timeout = timeout

    def run(self, record: dict[str, Any], assets: Assets) -> str:
        """The job's outcome; its log and outputs land where the service would keep them, its exit code in record."""
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
        outputs = {}
        for output in properties.get("outputs") or {}:
            outputs[output] = str(self.store / "named" / name / output)
            Path(outputs[output]).mkdir(parents=True, exist_ok=True)

        def substitute(match: re.Match[str]) -> str:
            table = inputs if match.group(1) == "inputs" else outputs
            return table.get(match.group(2), match.group(0))

        command = PLACEHOLDER.sub(substitute, str(properties["command"]))
        environment = {**os.environ, **self.rscript_env, **(properties.get("environmentVariables") or {})}
        environment["AZUREML_RUN_ID"] = name
        (work / "outputs").mkdir(exist_ok=True)
        with log_path.open("wb") as log:
            try:
                result = subprocess.run(
                    ["bash", "-c", command],
                    cwd=work,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=self.timeout,
                    check=False,
                )
                code_returned = result.returncode
            except subprocess.TimeoutExpired:
                log.write(b"\nfake azureml: command timed out\n")
                code_returned = -1
        record["exit_code"] = code_returned
        if (work / "outputs").is_dir():
            shutil.copytree(work / "outputs", artifacts / "outputs", dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(work, ignore_errors=True)
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
