"""A sweep job's options resolved once, like a grid sweep's (rjobs.inputs.options.resolve): the sweep file read
and checked, flags that only grids take refused, the run name derived from the sweep's content."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.core.naming import check_run_name
from rjobs.engine.wiring import PreparedSweep, make_backend
from rjobs.inputs.command import entry_script
from rjobs.inputs.options import ResolvedSweep, SweepOptions, check_results_folder, derive_run_name
from rjobs.inputs.result_options import check_result_options
from rjobs.inputs.service_names import check_sent_names
from rjobs.inputs.spec import check_local_files
from rjobs.search.sweep_file import SweepJob, load_sweep_job
from rjobs.search.trials import STUDY_FILE, TrialBook

GRID_ONLY = {"grid": "--grid", "grid_values": "grid_values", "param": "--param", "select": "--select"}


@dataclass(frozen=True)
class ResolvedSearch:
    """A sweep job ready to run: the engine's resolution (no cells yet: trials are asked) and the sweep job."""

    resolved: ResolvedSweep
    job: SweepJob

    @property
    def max_concurrent(self) -> int:
        return self.job.limits.max_concurrent_trials or self.resolved.options.max_concurrent

    @property
    def trial_timeout(self) -> float | None:
        return self.job.limits.trial_timeout or self.resolved.options.timeout


@dataclass(frozen=True)
class PreparedSearch:
    search: ResolvedSearch
    prepared: PreparedSweep


def resolve_search(options: SweepOptions) -> ResolvedSearch:
    """Every input error of a sweep job, before anything is submitted."""
    check_results_folder(options.results)
    for field, flag in GRID_ONLY.items():
        if getattr(options, field):
            fix = "the sweep job's objective picks the best trial" if field == "select" else "use search_space"
            raise InputError(options.job, flag, "does not apply to a sweep job", f"drop it: {fix}")
    job = load_sweep_job(options.job)
    check_local_files(job.spec, entry_script(job.spec))
    environment_file = Path(options.environment) if options.environment else None
    if environment_file is None and (job.spec.base_dir / "environment-job.yml").is_file():
        environment_file = job.spec.base_dir / "environment-job.yml"
    if environment_file is not None and not environment_file.is_file():
        raise InputError(environment_file, None, "file not found", "pass --environment with your environment YAML")
    check_sent_names(job.spec, environment_file)
    check_result_options(str(job.objective), options.register_model, options.model_path, "--register-model")
    if options.run_name:
        run = check_run_name(options.run_name)
    else:
        run = derive_run_name(replace(job.spec, raw=job.raw), [], environment_file, Path(options.results))
    check_study(Path(options.results) / run, job)
    resolved = ResolvedSweep(
        options=options, spec=job.spec, cells=[], run=run, environment_file=environment_file, objective=job.objective
    )
    return ResolvedSearch(resolved, job)


def prepare_search(options: SweepOptions) -> PreparedSearch:
    """Resolve, then build the backend the options name."""
    search = resolve_search(options)
    return PreparedSearch(search, PreparedSweep(search.resolved, make_backend(search.resolved)))


def check_study(run_dir: Path, job: SweepJob) -> None:
    """A run folder already holding another study (a --run-name reused with another sampler or seed) is refused
    before anything runs: its trials were asked by another sequence."""
    try:
        TrialBook.open(run_dir, job.sampling.type, job.sampling.seed)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            run_dir / STUDY_FILE, None, str(exc).replace(str(run_dir / STUDY_FILE), "it"), "choose another --run-name"
        ) from None
