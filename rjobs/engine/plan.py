"""What a sweep would do, without doing it: the plan of a dry run, and one command-job YAML per cell.

Shared by the CLI and the flow, so a dry run from the terminal and one ticked in a deployment's run form show the
same thing and neither submits anything.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rjobs.backends.base import CellJob
from rjobs.core.errors import InputError
from rjobs.core.values import value_text
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.reuse import ContentIndex
from rjobs.engine.sweep import Sweep, SweepSettings
from rjobs.engine.wiring import PreparedSweep
from rjobs.inputs.command import render_argv
from rjobs.inputs.options import ResolvedSweep


@dataclass(frozen=True)
class Plan:
    """A dry run's findings: the environment's warnings and a line per cell (what happens to it, its command)."""

    header: str
    warnings: tuple[str, ...]
    lines: tuple[str, ...]

    def text(self) -> str:
        return "\n".join([*(f"warning: {w}" for w in self.warnings), self.header, *self.lines])


def sweep_of(prepared: PreparedSweep) -> Sweep:
    """The engine's view of the sweep, for reading only: a plan builds cells' jobs and reads the ledger."""
    resolved, backend = prepared.resolved, prepared.backend
    reuse = ContentIndex(resolved.results_root, resolved.content)
    settings = SweepSettings(run=resolved.run, retries=resolved.options.retries, reuse=reuse)
    ledger = RunLedger(resolved.results_root, resolved.run)
    return Sweep(resolved.spec, resolved.cells, backend, ledger, settings, JobMonitor(backend))


def make_plan(prepared: PreparedSweep) -> Plan:
    """Every cell, what a run would do with it and the exact command; a remote environment is not checked, since
    checking it means submitting a smoke job."""
    sweep = sweep_of(prepared)
    warnings: tuple[str, ...] = ()
    if not prepared.backend.remote:
        sweep.stage_data()
        warnings = prepared.backend.ensure_environment(sweep.spec).warnings
    header = f"run {sweep.settings.run}: {len(sweep.cells)} cell(s) on {prepared.backend.name}, "
    header += f"results in {sweep.ledger.run_dir}"
    lines: list[str] = []
    for cell_id, action in sweep.plan().items():
        job = sweep.cell_job(sweep.cells[cell_id], 1)
        lines.append(f"  {cell_id} [{action}] {json.dumps(dict(job.params), ensure_ascii=False)}")
        lines.append(f"    {command_line(sweep, job)}")
    return Plan(header, tuple(warnings), tuple(lines))


def command_line(sweep: Sweep, job: CellJob) -> str:
    """The command as the backend would run it: argv joined with shell quoting for display."""
    values = {
        name: value_text(spec.value) if spec.is_literal else str(spec.path)
        for name, spec in job.inputs.items()
        if spec.is_literal or spec.path is not None
    }
    for name, spec in job.inputs.items():
        if spec.is_local:
            values[name] = str(sweep.spec.local_path(spec))
    outputs = {name: f"outputs/{name}" for name in sweep.spec.outputs}
    return shlex.join(render_argv(sweep.spec, values, outputs))


def emit_yaml(resolved: ResolvedSweep, folder: Path) -> list[Path]:
    """One command-job YAML per cell for `az ml job create -f`. All are written to a temporary folder first and
    moved into place only when every one was written, so a failure leaves no half set behind."""
    from rjobs.backends.azureml.jobs import emit_job_yaml
    from rjobs.backends.local.backend import LocalBackend

    environment = resolved.spec.environment
    if not isinstance(environment, str):
        raise InputError(resolved.spec.source, "environment", "is not a reference", "use azureml:<name>@latest")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("--emit-yaml", str(folder), "is a file, not a folder", "give a folder to write into")
    backend = LocalBackend(check_packages=False)
    sweep = sweep_of(PreparedSweep(resolved, backend))
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{resolved.run}-{cell_id}.yml" for cell_id in sweep.cells]
    with tempfile.TemporaryDirectory(dir=folder, prefix=".emit-") as staging:
        for name, cell in zip(names, sweep.cells.values(), strict=True):
            emit_job_yaml(sweep.cell_job(cell, 1), environment, None, Path(staging) / name)
        for name in names:
            shutil.move(Path(staging) / name, folder / name)
    return [folder / name for name in names]
