"""The parallel-job reader: Azure ML's keys used as documented, anything else refused in one line (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.train import main
from rjobs.core.errors import InputError
from rjobs.parallel.jobfile import is_parallel_job, load_parallel_job

BASE: dict[str, Any] = {
    "type": "parallel",
    "compute": "azureml:cpu-cluster",
    "inputs": {
        "data": {"type": "uri_folder", "path": "data"},
        "model": {"type": "uri_file", "path": "model.rds"},
        "unused": 3,
    },
    "outputs": {"predictions": {"type": "uri_folder"}},
    "input_data": "${{inputs.data}}",
    "mini_batch_size": "10",
    "resources": {"instance_count": 2},
    "max_concurrency_per_instance": 3,
    "mini_batch_error_threshold": 1,
    "error_threshold": 5,
    "retry_settings": {"max_retries": 2, "timeout": 600},
    "task": {
        "type": "run_function",
        "code": "src",
        "entry_script": "score.R",
        "program_arguments": "--model ${{inputs.model}}",
        "environment": "azureml:r-env@latest",
        "append_row_to": "${{outputs.predictions}}",
    },
}


def write(tmp_path: Path, changes: dict[str, Any], drop: tuple[str, ...] = ()) -> Path:
    raw = {**BASE, **changes}
    for key in drop:
        raw.pop(key)
    path = tmp_path / "parallel-job.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_the_documented_example_reads_as_azure_defines_it(tmp_path: Path) -> None:
    job = load_parallel_job(write(tmp_path, {}))
    assert (job.concurrency, job.mini_batch_size, job.partition_keys) == (6, 10, ())
    assert (job.mini_batch_error_threshold, job.error_threshold, job.max_retries, job.timeout_s) == (1, 5, 2, 600.0)
    assert job.append_row_to == "predictions" and job.data.name == "data"
    assert job.batch_spec.command == (
        "Rscript score.R --model ${{inputs.model}} --mini_batch ${{inputs.mini_batch}} --output outputs"
    )
    assert set(job.batch_spec.inputs) == {"model", "mini_batch"}  # the batch never gets the whole input
    assert job.batch_spec.environment == "azureml:r-env@latest" and job.batch_spec.compute == "azureml:cpu-cluster"
    assert is_parallel_job(tmp_path / "parallel-job.yml")


def test_defaults_are_azure_mls(tmp_path: Path) -> None:
    path = write(tmp_path, {}, drop=("mini_batch_error_threshold", "error_threshold", "retry_settings", "resources"))
    job = load_parallel_job(path)
    assert (job.mini_batch_error_threshold, job.error_threshold, job.max_retries, job.timeout_s) == (-1, -1, 3, 30.0)
    assert job.concurrency == 3


def test_partition_keys_pass_each_key_as_partition(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"partition_keys": ["island", "sex"], "inputs": {**BASE["inputs"], "data": {"type": "uri_file", "path": "t"}}},
        drop=("mini_batch_size",),
    )
    job = load_parallel_job(path)
    assert job.partition_keys == ("island", "sex") and job.mini_batch_size is None
    assert "--partition ${{inputs.partition_1}} --partition ${{inputs.partition_2}}" in job.batch_spec.command


BAD = [
    ({"logging_level": "DEBUG"}, "logging_level: is not supported"),
    ({"mini_batch_sise": "10"}, "mini_batch_sise: is not a parallel-job key"),
    ({"task": {**BASE["task"], "scoring_script": "x.R"}}, "task.scoring_script: is not a key rjobs reads here"),
    ({"task": {**BASE["task"], "type": "function"}}, "task.type: is 'function'"),
    ({"resources": {"instance_count": 0}}, "resources.instance_count: is '0'"),
    ({"retry_settings": {"max_retries": 2, "timeout": "soon"}}, "retry_settings.timeout: is 'soon'"),
    ({"retry_settings": {"max_tries": 2}}, "retry_settings.max_tries: is not a key"),
    ({"mini_batch_size": "10mb"}, "mini_batch_size: is '10mb' (a size in bytes)"),
    ({"mini_batch_size": "ten"}, "mini_batch_size: is 'ten'"),
    ({"partition_keys": ["island"]}, "mini_batch_size: is set with partition_keys"),
    ({"partition_keys": "island"}, "partition_keys: is not a list"),
    ({"input_data": "data"}, "input_data: is 'data'"),
    ({"input_data": "${{inputs.model2}}"}, "input_data: is"),
    ({"inputs": {**BASE["inputs"], "data": {"type": "mltable", "path": "d"}}}, "inputs.data.type: is 'mltable'"),
    ({"inputs": {**BASE["inputs"], "mini_batch": 1}}, "inputs.mini_batch: is a name rjobs gives each batch"),
    ({"task": {**BASE["task"], "append_row_to": "${{outputs.scores}}"}}, "task.append_row_to: is"),
    ({"task": {**BASE["task"], "entry_script": ""}}, "task.entry_script: is missing"),
    ({"task": {**BASE["task"], "program_arguments": "--x 'open"}}, "task.program_arguments: cannot be split"),
    ({"error_threshold": -2}, "error_threshold: is '-2'"),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[message.split(":")[0] for _, message in BAD])
def test_a_wrong_key_is_one_line_naming_it(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = write(tmp_path, changes)
    with pytest.raises(InputError) as caught:
        load_parallel_job(path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_missing_mini_batch_size_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="mini_batch_size: is missing"):
        load_parallel_job(write(tmp_path, {}, drop=("mini_batch_size",)))


def test_the_cli_exits_2_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"logging_level": "DEBUG"})
    assert main(["--job", str(path), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "logging_level" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_the_cli_refuses_a_missing_data_folder_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.R").write_text("1\n")
    (tmp_path / "model.rds").write_text("m")
    path = write(tmp_path, {})
    assert main(["--job", str(path), "--results", str(tmp_path / "results")]) == 2
    assert "inputs.data" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--emit-yaml", "out"], ["--param", "seed=1,2"], ["--select", "rmse:min"]])
def test_sweep_only_options_are_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: list[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.R").write_text("1\n")
    (tmp_path / "model.rds").write_text("m")
    (tmp_path / "data").mkdir()
    path = write(tmp_path, {})
    assert main(["--job", str(path), "--results", str(tmp_path / "results"), *flag]) == 2
    assert f"{flag[0]}: is not supported for a parallel job" in capsys.readouterr().err
