"""The `sweep-job` flow: an Azure ML sweep-job YAML (`type: sweep`) run by our orchestrator on either backend:
trials asked from the sampler as slots free up, told as they finish, stopped by the early-termination policy, then
the same results table, MLflow runs, plot and best-trial registration as a grid sweep.

`python -m flows.train --job sweep.yml` comes here (flows/sweep_cli.py validates first and hands it over).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from flows.train_flow import ACTIVE_SWEEPS, build_sweep, cancel_on_hook, upload_inputs
from rjobs.core.states import JobState
from rjobs.engine.sweep import Sweep
from rjobs.inputs.options import SweepOptions
from rjobs.search.resolve import PreparedSearch, prepare_search
from rjobs.search.study import EARLY_TERMINATION, Study
from rjobs.search.trial_plot import plot_metric_by_trial
from tasks.environment import check_environment, stage_data, upload_code
from tasks.results import write_results
from tasks.tracking import log_to_mlflow, plot_sweep, select_and_register

HANDED_OVER: ContextVar[PreparedSearch | None] = ContextVar("handed_over_search", default=None)
MIN_LOOP_POLL_S = 0.2
"""The study loop's cadence floor: each turn reads every running trial's metrics.jsonl."""


def prepared_for(options: SweepOptions) -> PreparedSearch:
    handed = HANDED_OVER.get()
    if handed is not None and handed.search.resolved.options == options:
        return handed
    return prepare_search(options)


@flow(name="sweep-job", on_cancellation=[cancel_on_hook], on_crashed=[cancel_on_hook])
def sweep_job(options: SweepOptions = SweepOptions(job="sweep.yml")) -> dict[str, Any] | State:  # noqa: B008
    """Stage data, check the environment, run the study, then results, MLflow, the plot and the best trial."""
    from prefect.runtime import flow_run

    handed = prepared_for(options)
    search, prepared = handed.search, handed.prepared
    job = search.job
    sweep = build_sweep(prepared)
    sweep.settings.timeout_s = search.trial_timeout
    ACTIVE_SWEEPS[flow_run.id] = sweep
    logger = get_run_logger()
    try:
        stage_data(sweep, upload_inputs(search.resolved) if options.upload_to else None)
        check_environment(sweep)
        upload_code(sweep)
        study = Study(
            job, sweep, max_concurrent=search.max_concurrent, poll_s=max(prepared.poll_interval, MIN_LOOP_POLL_S)
        )
        logger.info(
            "sweep job: %s sampling of %s, up to %d trial(s), %d at a time",
            job.sampling.type,
            ", ".join(f"{name} ({d.kind})" for name, d in job.space.items()),
            job.limits.max_total_trials,
            search.max_concurrent,
        )
        try:
            study.run()
        finally:
            summary = write_results(sweep, study_summary(study, search.max_concurrent))
        tracking = None if options.no_mlflow else log_to_mlflow(sweep, options.tracking_uri)
        plot = plot_sweep(sweep, job.objective)
        trial_plot = plot_metric_by_trial(sweep.ledger, study.book.trials, job.objective, job.sampling.type)
        logger.info("plot: %s", trial_plot)
        summary["best"] = select_and_register(
            sweep, job.objective, options.register_model, options.model_path, tracking, plot
        )
    finally:
        ACTIVE_SWEEPS.pop(flow_run.id, None)
    return final_state(sweep, summary)


def study_summary(study: Study, max_concurrent: int) -> dict[str, Any]:
    """run.json's sweep-job counters: trials asked, stopped early, and the sampler they were asked by."""
    states = [trial.state for trial in study.book.trials]
    return {
        "max_concurrent": max_concurrent,
        "experiment": study.job.spec.experiment,
        "sampling": study.job.sampling.type,
        "seed": study.job.sampling.seed,
        "trials": len(states),
        "terminated": states.count("terminated"),
        "objective": str(study.job.objective),
    }


def final_state(sweep: Sweep, summary: dict[str, Any]) -> dict[str, Any] | State:
    """Completed unless a trial failed or was cancelled other than by the policy: an early-terminated trial is the
    policy doing its job, not a failure."""
    bad = [
        cell_id
        for cell_id, result in sweep.results.items()
        if result.record.job_state != JobState.COMPLETED and result.record.error != EARLY_TERMINATION
    ]
    if not bad:
        return summary
    message = f"{len(bad)} trial(s) did not complete: {', '.join(sorted(bad)[:10])} (see {sweep.ledger.summary_path})"
    return Failed(message=message, data=summary)
