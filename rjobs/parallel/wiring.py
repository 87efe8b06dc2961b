"""From options to a ready parallel run: job file read, run named, input split, backend built; every input error is
raised here, before Prefect or any job starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rjobs.backends.base import Backend
from rjobs.core.errors import InputError
from rjobs.core.hashing import content_hash
from rjobs.core.naming import check_run_name, slug
from rjobs.engine.ledger import RunLedger
from rjobs.engine.monitor import JobMonitor
from rjobs.engine.sweep import SweepSettings
from rjobs.engine.wiring import DEFAULT_POLL_INTERVAL, make_backend, make_monitor
from rjobs.inputs.options import ResolvedSweep, SweepOptions, check_results_folder, content_parts
from rjobs.inputs.service_names import check_sent_names
from rjobs.inputs.spec import check_local_files
from rjobs.parallel.batches import Batch, split_folder
from rjobs.parallel.engine import BatchSweep, ParallelRun, batch_cells
from rjobs.parallel.jobfile import ParallelJob, load_parallel_job
from rjobs.parallel.tables import split_partitions, split_rows

BATCHES_DIR = "batches"


@dataclass(frozen=True)
class PreparedParallel:
    """A parallel job split into batches, with the backend its batches run on."""

    job: ParallelJob
    batches: list[Batch]
    resolved: ResolvedSweep
    backend: Backend

    @property
    def run(self) -> str:
        return self.resolved.run

    @property
    def poll_interval(self) -> float:
        return self.resolved.options.poll_interval or DEFAULT_POLL_INTERVAL[self.backend.name]


def parallel_run_name(job: ParallelJob, environment_file: Path | None, results: Path) -> str:
    """Job file, code, the batch's other inputs and environment name the run, the split data does not: its batches
    are content-addressed, so a grown input resumes the same run and runs only its new batches."""
    spec = job.batch_spec
    parts = content_parts(spec, environment_file, results, source=job.raw, skip_inputs=("mini_batch",))
    return f"{slug(spec.experiment_name or job.source.stem)}-{content_hash(parts)}"


def check_data(job: ParallelJob) -> Path:
    """The input to split, named as the user wrote it (not as the batch's mini_batch input) when it is missing."""
    data = job.data_path
    if not job.data.is_local:
        raise InputError(
            job.source, f"inputs.{job.data.name}.path", f"{job.data.path} is not a local path", "give a local path"
        )
    if not data.exists():
        raise InputError(job.source, f"inputs.{job.data.name}.path", f"{data} does not exist", "fix the path")
    return data


def split(job: ParallelJob, batches_dir: Path) -> list[Batch]:
    """The input's batches: a folder by files, a table by rows or by partition."""
    data = check_data(job)
    if data.is_dir():
        if job.partition_keys:
            raise InputError(job.source, "partition_keys", "needs a table", "point input_data at a CSV or Parquet file")
        assert job.mini_batch_size is not None
        return split_folder(data, job.mini_batch_size, batches_dir)
    if job.partition_keys:
        return split_partitions(data, job.partition_keys, batches_dir)
    assert job.mini_batch_size is not None
    return split_rows(data, job.mini_batch_size, batches_dir)


UNSUPPORTED_OPTIONS = {
    "grid": "run one job file per setting",
    "param": "run one job file per setting",
    "grid_values": "run one job file per setting",
    "emit_yaml": "a parallel job runs through rjobs; --dry-run shows its batches",
    "select": "read the appended output instead",
    "register_model": "register from a command-job sweep",
    "upload_to": "the batches are staged per batch; drop --upload-to",
}


def check_options(options: SweepOptions, job: ParallelJob) -> None:
    """Sweep options that mean nothing for a parallel job are refused, never silently ignored."""
    for name, fix in UNSUPPORTED_OPTIONS.items():
        if getattr(options, name):
            flag = "--" + name.replace("_", "-")
            raise InputError(job.source, flag, "is not supported for a parallel job", fix)
    if options.pack is not None and options.pack != job.instance_count:
        raise InputError(
            job.source,
            "--pack",
            f"packs a parallel job's batches into its resources.instance_count ({job.instance_count}) jobs, "
            f"not {options.pack}",
            f"give --pack {job.instance_count}, or set resources.instance_count",
        )


def prepare_parallel(options: SweepOptions) -> PreparedParallel:
    """Read, name, split, build the backend; the split runs once per invocation and is reused by the flow."""
    check_results_folder(options.results)
    job = load_parallel_job(options.job)
    check_data(job)
    check_local_files(job.batch_spec, job.entry_script)
    check_options(options, job)
    spec = job.batch_spec
    environment_file = Path(options.environment) if options.environment else spec.base_dir / "environment-job.yml"
    environment_file = environment_file if environment_file.is_file() else None
    check_sent_names(spec, environment_file)
    results = Path(options.results)
    run = check_run_name(options.run_name) if options.run_name else parallel_run_name(job, environment_file, results)
    untracked = options.model_copy(update={"no_mlflow": True})  # a parallel run logs no MLflow runs: no plugin needed
    backend = make_backend(
        ResolvedSweep(options=untracked, spec=spec, cells=[], run=run, environment_file=environment_file)
    )
    if backend.remote and job.data_path.is_dir():
        raise InputError(
            job.source,
            "input_data",
            f"is a folder, and batch listings of local files mean nothing to a remote job ({backend.name})",
            "split a table (CSV or Parquet uri_file) on Azure, or run folder inputs with --backend local",
        )
    batches = split(job, RunLedger(results, run).run_dir / BATCHES_DIR)
    if not batches:
        raise InputError(job.source, f"inputs.{job.data.name}", "holds no items to process", "give it files or rows")
    resolved = ResolvedSweep(
        options=options, spec=spec, cells=list(batch_cells(batches)), run=run, environment_file=environment_file
    )
    return PreparedParallel(job, batches, resolved, backend)


def build_run(prepared: PreparedParallel, monitor: JobMonitor | None = None) -> ParallelRun:
    """The engine objects for the run: a BatchSweep with the job's retries and timeout, on the prepared backend."""
    job, resolved = prepared.job, prepared.resolved
    monitor = monitor or make_monitor(prepared.backend, prepared.poll_interval)
    settings = SweepSettings(run=resolved.run, retries=job.max_retries, timeout_s=job.timeout_s)
    ledger = RunLedger(resolved.results_root, resolved.run)
    sweep = BatchSweep(resolved.spec, resolved.cells, prepared.backend, ledger, settings, monitor)
    return ParallelRun(job, prepared.batches, sweep, pack=resolved.options.pack is not None)
