"""A packed job on Azure ML (--pack): one command job runs rjobs/packing/runner.sh over the pack's items.

The pack folder (its code copy, items and runner) is the job's code, uploaded as a code asset versioned by content.
The runner's results go to the named output `pack`, a uri_folder in rw_mount mode at its default place
(`azureml/<job>/pack/` in the default datastore): Azure writes a mounted output through to blob storage as each file
closes, so the orchestrator reads progress.log and finished items there while the job runs (pack_mirror). There is
no Python in the R image: the job's command is the POSIX shell runner itself. Data inputs are mounted once for the
job and reach each item through RJOBS_INPUT_<name> (rjobs.packing.items.input_reference).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rjobs.backends.azureml.jobs import RUN_PROPERTY, apply_sdk_settings, literal_values
from rjobs.backends.base import CellJob, PackLaunch
from rjobs.core.errors import InputError
from rjobs.core.files import OUTPUTS_DIR
from rjobs.inputs.command import render_argv
from rjobs.packing.items import INPUT_VARIABLE, RUNNER, input_reference

if TYPE_CHECKING:
    from azure.ai.ml.entities import Command

PACK_OUTPUT = "pack"
"""The named output the runner writes its results into (its OUT_DIR)."""
ITEM_INPUTS = "inputs"
"""Where an item's shipped files sit in its folder (items/<id>/inputs/<input>/<file>)."""


def item_files(job: CellJob) -> dict[str, Path]:
    """An item's own local data (a parallel job's batch file, never staged as an asset when packed), shipped in the
    pack's code under the item's folder; the job's shared data is registered and mounted instead."""
    files = {}
    for name, spec_input in job.inputs.items():
        if spec_input.is_local:
            local = job.spec.local_path(spec_input)
            if not local.is_file():
                raise InputError(job.spec.source, f"inputs.{name}", f"{local} is not a file", "give a file")
            files[f"{ITEM_INPUTS}/{name}/{local.name}"] = local
    return files


def pack_item_argv(job: CellJob) -> list[str]:
    """The argv the cell's own job would run, with R's working directory the item's code copy: literal values as
    text, mounted data as the job's mount paths, shipped files relative to the item's folder, named outputs under
    ./outputs (collected as an unpacked job's)."""
    values = literal_values(job)
    shipped = {Path(name).parent.name: name for name in item_files(job)}
    for name, spec_input in job.inputs.items():
        if name in shipped:
            values[name] = f"../{shipped[name]}"
        elif not spec_input.is_literal:
            values[name] = input_reference(name)
    return render_argv(job.spec, values, {name: f"{OUTPUTS_DIR}/{name}" for name in job.spec.outputs})


def pack_inputs(jobs: Sequence[CellJob]) -> dict[str, Any]:
    """The data inputs the pack's job mounts: every item must read the same ones (a grid varies values, not data)."""
    from azure.ai.ml import Input

    first = jobs[0]
    mounted = [(name, spec_input) for name, spec_input in first.inputs.items() if not spec_input.is_literal]
    data = {name: spec_input for name, spec_input in mounted if not spec_input.is_local}
    for job in jobs[1:]:
        for name, spec_input in job.inputs.items():
            if (
                not spec_input.is_literal
                and not spec_input.is_local
                and (name not in data or data[name].path != spec_input.path)
            ):
                raise InputError(
                    first.spec.source,
                    f"inputs.{name}",
                    f"differs between cells {first.cell_id} and {job.cell_id}, and a packed job mounts its data once",
                    "drop --pack, or vary only literal values in grid.yml",
                )
    inputs: dict[str, Any] = {}
    for name, spec_input in data.items():
        path = str(first.spec.local_path(spec_input)) if spec_input.is_local else spec_input.path
        inputs[name] = Input(type=spec_input.type, path=path, **({"mode": spec_input.mode} if spec_input.mode else {}))
    return inputs


def pack_command(launch: PackLaunch, inputs: Sequence[str]) -> str:
    """The job's command: each mounted input into RJOBS_INPUT_<name>, then the runner over the code folder with
    its results in the mounted output."""
    limit = "0" if launch.timeout_s is None else f"{launch.timeout_s:g}"
    exports = [f'{INPUT_VARIABLE}{name}="${{{{inputs.{name}}}}}"' for name in inputs]
    runner = ["sh", RUNNER.name, ".", str(launch.processes), limit]
    return " ".join([*exports, shlex.join(runner), f'"${{{{outputs.{PACK_OUTPUT}}}}}"'])


def build_pack_job(launch: PackLaunch, environment: str, code: str) -> Command:
    """The packed job: the cells' environment, compute, variables and SDK settings; the run's property, so status
    listings and `cancel --run` find it as they find a cell's job."""
    from azure.ai.ml import Output, command

    spec, run = launch.spec, launch.jobs[0].run
    inputs = pack_inputs(launch.jobs)
    cells = [job.cell_id for job in launch.jobs]
    entity = command(
        name=launch.name,
        command=pack_command(launch, list(inputs)),
        code=code,
        inputs=inputs,
        outputs={PACK_OUTPUT: Output(type="uri_folder", mode="rw_mount")},
        environment=environment,
        compute=spec.compute,
        experiment_name=spec.experiment,
        display_name=f"{spec.display_name or run} pack of {len(cells)}",
        description=f"rjobs run {run}: {len(cells)} cells packed, {launch.processes} at a time: {', '.join(cells)}"[
            :1000
        ],
        environment_variables=dict(spec.environment_variables),
        tags={**{str(k): str(v) for k, v in spec.tags.items()}, "rjobs.run": run, "rjobs.kind": "pack"},
        properties={RUN_PROPERTY: run},
    )
    apply_sdk_settings(entity, spec)
    if getattr(entity, "resources", None) is not None:  # a pack is one node's work: on N nodes each would run it all
        entity.resources.instance_count = 1
    entity.distribution = None
    return entity
