"""Real R: what YAML 1.1 would retype (`010` -> 8, `yes` -> true, `1.5e-7` -> 1.5e-07, a date) reaches R's
commandArgs() as the user wrote it, from grid.yml and from job.yml's own inputs, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rjobs.core.states import JobState
from rjobs.inputs.grid import cell_id
from rjobs.testing.fake_mlclient import FakeClock, FakeMLClient
from tests.reliability.support import engine_sweep, write_project

ARGS_R = """
args <- commandArgs(trailingOnly = TRUE)
dir.create("outputs", showWarnings = FALSE)
jsonlite::write_json(args, "outputs/args.json")
writeLines('{"n": 1}', "outputs/metrics.json")
"""
WRITTEN = ["010", "0x10", "1_000", "1:30", "yes", "on", "1.5e-7", ".nan", "2024-01-01", "16", "16.0"]


@pytest.mark.slow
@pytest.mark.r
@pytest.mark.azure_fake
def test_r_receives_each_value_as_written(tmp_path: Path) -> None:
    job = write_project(
        tmp_path / "project",
        script=ARGS_R,
        script_name="args.R",
        command="Rscript args.R --value ${{inputs.value}} --other ${{inputs.other}}",
        inputs={"value": "x", "other": "placeholder"},
        azure=True,
    )
    job.write_text(job.read_text(encoding="utf-8").replace("other: placeholder", "other: 0x1F"), encoding="utf-8")
    spelled = [f'"{text}"' if text == "16" else text for text in WRITTEN]  # a quoted one among the plain ones
    (job.parent / "grid.yml").write_text(f"value: [{', '.join(spelled)}]\n", encoding="utf-8")

    local = engine_sweep(job, tmp_path / "results-local", "vl")
    fake = FakeMLClient(FakeClock(), store=tmp_path / "fake-store", run_commands=True)
    azure = engine_sweep(job, tmp_path / "results-azure", "va", client=fake)

    for text in WRITTEN:
        cell = cell_id({"value": text})
        for sweep in (local, azure):
            record = sweep.ledger.load(cell)
            assert record is not None and record.job_state == JobState.COMPLETED, (sweep.backend.name, text)
            assert record.params == {"value": text}
            args = json.loads((sweep.ledger.outputs_dir(cell) / "args.json").read_text(encoding="utf-8"))
            assert args == ["--value", text, "--other", "0x1F"], (sweep.backend.name, text)
