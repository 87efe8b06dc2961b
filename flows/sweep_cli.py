"""`python -m flows.train --job sweep.yml` for a sweep job (`type: sweep`, dispatched by flows/train.py):
validation (exit 2 on bad input), --dry-run and --emit-yaml without Prefect, then the sweep-job flow, the table and
the exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from flows.cli import print_table
from flows.launch import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED_CELLS, EXIT_OK, bad_input, run_handed_over
from flows.temporary_server import TemporaryServer
from rjobs.core.errors import InputError
from rjobs.inputs.options import SweepOptions
from rjobs.results.selection import NoEligibleCellError
from rjobs.search.emit import emit_sweep_yaml
from rjobs.search.resolve import PreparedSearch, prepare_search, resolve_search
from rjobs.search.study import make_sampler
from rjobs.search.tpe import N_STARTUP

PREVIEW_TRIALS = 10


def describe(prepared: PreparedSearch) -> str:
    """--dry-run: what the study would do, nothing run."""
    job, search = prepared.search.job, prepared.search
    lines = [
        f"sweep job {job.spec.source} -> run {search.resolved.run} on {prepared.prepared.backend.name}",
        f"sampling {job.sampling.type} (seed {job.sampling.seed}); objective {job.objective}",
        f"up to {job.limits.max_total_trials} trial(s), {search.max_concurrent} at a time"
        + (f"; sweep timeout {job.limits.timeout:g}s" if job.limits.timeout else "")
        + (f"; trial timeout {search.trial_timeout:g}s" if search.trial_timeout else ""),
        f"early termination: {job.early_termination.type if job.early_termination else 'none'}",
        "search space:",
        *(f"  {name}: {dimension.kind}" for name, dimension in job.space.items()),
        f"command: {job.raw['trial']['command']}",
    ]
    sampler = make_sampler(job)
    shown = min(job.limits.max_total_trials, PREVIEW_TRIALS)
    if job.sampling.type == "bayesian":
        shown = min(shown, N_STARTUP)
    first = [params for index in range(shown) if (params := sampler.ask(index, [])) is not None]
    lines.append(f"first {len(first)} trial(s) of a fresh run:")
    lines.extend(f"  {index}: {' '.join(f'{k}={v}' for k, v in params.items())}" for index, params in enumerate(first))
    return "\n".join(lines)


def main_sweep(options: SweepOptions) -> int:
    """Validate everything first (exit 2), run the flow, print the table; 0 when every trial completed or was
    stopped by the policy, 1 with failed trials (or none with the objective), 130 when cancelled."""
    try:
        if options.emit_yaml:
            path, note = emit_sweep_yaml(resolve_search(options).job, Path(options.emit_yaml))
            print(f"wrote {path}; submit it with az ml job create -f\nnote: {note}")
            return EXIT_OK
        prepared = prepare_search(options)
        if options.dry_run:
            print(describe(prepared))
            return EXIT_OK
        server = TemporaryServer.start_unless_configured()
        backend, spec = prepared.prepared.backend, prepared.search.resolved.spec
        if not backend.remote:
            backend.ensure_data(spec)
            backend.ensure_environment(spec)
    except (InputError, ValueError) as exc:
        return bad_input(exc)
    return run_sweep_flow(prepared, server)


def run_sweep_flow(prepared: PreparedSearch, server: TemporaryServer | None) -> int:
    """The sweep-job flow with this study handed over, then the table and the exit code."""
    from flows.sweep_job_flow import HANDED_OVER, sweep_job

    state = run_handed_over(
        lambda: sweep_job(prepared.search.resolved.options, return_state=True), HANDED_OVER, prepared, server, "trials"
    )
    return state if isinstance(state, int) else report(prepared, state)


def report(prepared: PreparedSearch, state: Any) -> int:
    run_dir = Path(prepared.search.resolved.options.results).resolve() / prepared.search.resolved.run
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException) and (state.is_failed() or state.is_crashed()):
        if isinstance(result, InputError):
            print(f"error: {result}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if not (run_dir / "run.json").is_file() or isinstance(result, NoEligibleCellError):
            if (run_dir / "summary.csv").is_file():
                print_table(run_dir)
            print(f"error: {result}", file=sys.stderr)
            return EXIT_FAILED_CELLS
    if state.is_cancelled():
        return EXIT_CANCELLED
    summary = json.loads((run_dir / "run.json").read_text())
    print_table(run_dir)
    stopped = summary.get("terminated", 0)
    print(
        f"\nrun {summary['run']}: {summary['trials']} trial(s) by {summary['sampling']} sampling: "
        f"{summary['completed']} completed, {stopped} stopped early, {summary['failed']} failed, "
        f"{summary['cancelled'] - stopped} cancelled; reused {summary['reused']}"
    )
    print(f"results: {run_dir / 'summary.csv'}")
    best = result.get("best") if isinstance(result, dict) else None
    if best:
        model = best.get("model")
        registered = f"; model {model['name']} version {model['version']}" if model else ""
        print(f"best by {summary['objective']}: {best['cell']} {best['params']}{registered}")
    if summary["cancelled"] > stopped:
        return EXIT_CANCELLED
    return EXIT_OK if summary["failed"] == 0 else EXIT_FAILED_CELLS
