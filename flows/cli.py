"""`python -m flows.train`: flags generated from SweepOptions (so CLI and Prefect form never drift), validation,
dry run and YAML emission without importing Prefect, then the flow, the table and the exit code."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flows.launch import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED_CELLS, EXIT_OK, bad_input, run_handed_over
from flows.temporary_server import TemporaryServer
from rjobs.core.errors import InputError
from rjobs.engine.ledger import RunLedger
from rjobs.engine.plan import emit_yaml
from rjobs.engine.wiring import PreparedSweep, prepare
from rjobs.inputs.option_groups import grouped_fields
from rjobs.inputs.options import ResolvedSweep, SweepOptions, option_error, resolve
from rjobs.inputs.result_options import Objective
from rjobs.results.selection import NoEligibleCellError

DESCRIPTION = "Fan an R job out over a parameter grid as Azure ML command jobs (or local Rscript), one results table."

UI_ONLY = frozenset({"grid_values"})


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """One flag per SweepOptions field (--max-concurrent for max_concurrent), grouped as the run form is, each with
    its default."""
    parser = argparse.ArgumentParser(prog=prog, usage="%(prog)s [options]", description=description)
    groups: dict[str, Any] = {}
    for group_name, name in grouped_fields():
        if name in UI_ONLY:
            continue
        group = groups.get(group_name) or groups.setdefault(group_name, parser.add_argument_group(group_name))
        field = SweepOptions.model_fields[name]
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        if "default" not in help_text:
            help_text += f" (default: {shown_default(name)})"
        default = None if field.default_factory else field.default
        if field.annotation is bool:
            group.add_argument(flag, dest=name, action="store_true", help=help_text)
        elif typing.get_origin(field.annotation) is list:
            metavar = "KEY=V1,V2" if name == "param" else "NAME"
            group.add_argument(flag, dest=name, action="append", default=[], metavar=metavar, help=help_text)
        elif typing.get_origin(field.annotation) is typing.Literal:
            choices = typing.get_args(field.annotation)
            group.add_argument(flag, dest=name, choices=choices, default=default, help=help_text)
        else:
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, metavar=name.upper(), help=help_text)
    parser.add_argument(
        "--serve",
        action="store_true",
        help="schedule prefect.yaml's nightly retrain on this machine with Prefect's serve (the flags above override "
        "its parameters) and run it until Ctrl-C; a team's server uses `make deploy` and a worker instead",
    )
    return parser


def shown_default(name: str) -> str:
    """A default as --help shows it: the value, or what an unset option means."""
    field = SweepOptions.model_fields[name]
    if name == "max_concurrent":
        return f"CPU count, here {SweepOptions().max_concurrent}"
    if field.default_factory is not None:
        return "none"
    if field.default is None:
        return "unset"
    if isinstance(field.default, bool):
        return "off" if not field.default else "on"
    return str(field.default)


def options_from_args(namespace: argparse.Namespace) -> SweepOptions:
    """Only the flags the user gave override the model's defaults; a value the model refuses is an InputError
    naming the flag and the fix, not pydantic's report."""
    given: dict[str, Any] = {k: v for k, v in vars(namespace).items() if v is not None}
    try:
        return SweepOptions(**given)
    except ValidationError as exc:
        raise option_error(exc) from None


def print_plan(prepared: PreparedSweep) -> None:
    """--dry-run: every cell, what would happen to it and the exact command, without running anything."""
    from rjobs.engine.plan import make_plan

    print(make_plan(prepared).text())


def print_table(run_dir: Path, objective: Objective | None = None, best: str | None = None) -> None:
    """The summary table best first by the selected metric: on a terminal with long values wrapped, else as plain
    text; then the log tail of every cell that did not complete."""
    from rjobs.results.table import failure_notes, format_table

    ledger = RunLedger(run_dir.parent, run_dir.name)
    if not sys.stdout.isatty():
        print(format_table(ledger, best, objective))
        return
    from flows.terminal import print_rich_table

    with ledger.summary_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    print_rich_table(rows, best, objective, sys.stdout)
    notes = failure_notes(rows)
    if notes:
        print("\n".join(["", *notes]))


def main(argv: list[str] | None = None) -> int:
    """Validate everything first (exit 2 on bad input), run the flow, print the table, exit 0/1/130."""
    parser = build_parser("python -m flows.train", DESCRIPTION)
    try:
        args = parser.parse_args(argv)
        serving = vars(args).pop("serve")
        options = options_from_args(args)
        if serving:
            from flows.serve import serve

            return serve(options)
        if options.emit_yaml:
            written = emit_yaml(resolve(options), Path(options.emit_yaml))
            print(f"wrote {len(written)} job YAML file(s) to {options.emit_yaml}; submit each with az ml job create -f")
            return EXIT_OK
        prepared = prepare(options)
        if options.dry_run:
            print_plan(prepared)
            return EXIT_OK
        server = TemporaryServer.start_unless_configured()  # stopped at exit, after Prefect has sent its logs
        if not prepared.backend.remote:  # fail fast, before Prefect: local R lacks a package, data is missing
            prepared.backend.ensure_data(prepared.resolved.spec)
            prepared.backend.ensure_environment(prepared.resolved.spec)
    except (InputError, ValueError) as exc:
        return bad_input(exc)
    return run_flow(prepared, server)


def run_flow(prepared: PreparedSweep, server: TemporaryServer | None) -> int:
    """The train flow with this sweep handed over (a progress bar on a terminal), then the table and the exit
    code."""
    from flows.parameters import flow_parameters
    from flows.sweep_progress import SHOWN
    from flows.terminal import progress_bar
    from flows.train_flow import HANDED_OVER, train
    from rjobs.engine.progress import SweepProgress

    shown = SweepProgress([cell.cell_id for cell in prepared.resolved.cells]) if sys.stderr.isatty() else None

    def run() -> Any:
        with progress_bar(shown, prepared.resolved.run, sys.stderr) if shown is not None else contextlib.nullcontext():
            return train(**flow_parameters(prepared.resolved.options), return_state=True)

    token = SHOWN.set(shown)
    try:
        state = run_handed_over(run, HANDED_OVER, prepared, server, "jobs")
    finally:
        SHOWN.reset(token)
    return state if isinstance(state, int) else report(prepared.resolved, state)


def best_line(objective: Objective | None, best: dict[str, Any]) -> str:
    """`best by rmse:min: model=lm seed=2 (cell c1a2b3c, rmse 301.2); registered r-penguins version 3`."""
    from rjobs.inputs.grid import cell_title

    metric = ""
    if objective is not None and objective.metric in best.get("metrics", {}):
        metric = f", {objective.metric} {best['metrics'][objective.metric]:.4g}"
    model = best.get("model")
    registered = f"; registered {model['name']} version {model['version']}" if model else ""
    return f"best by {objective}: {cell_title(best['params'], width=200)} (cell {best['cell']}{metric}){registered}"


def report(resolved: ResolvedSweep, state: Any) -> int:
    """Print the table and the outcome of the flow run's final state; the exit code that goes with it."""
    options = resolved.options
    run_dir = Path(options.results).resolve() / resolved.run
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException) and (state.is_failed() or state.is_crashed()):
        if isinstance(result, InputError):
            print(f"error: {result}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(result, NoEligibleCellError):
            print_table(run_dir)
            print(f"error: {result}", file=sys.stderr)
            return EXIT_FAILED_CELLS
        if not (run_dir / "run.json").is_file():
            print(f"error: the flow failed: {result}", file=sys.stderr)
            return EXIT_FAILED_CELLS
    if state.is_cancelled():
        return EXIT_CANCELLED
    summary = json.loads((run_dir / "run.json").read_text())
    best = result.get("best") if isinstance(result, dict) else None
    print_table(run_dir, resolved.objective, best["cell"] if best else None)
    print(
        f"\nrun {summary['run']}: {summary['completed']}/{summary['cells']} completed, {summary['failed']} failed, "
        f"{summary['cancelled']} cancelled; submitted {summary['submitted']}, reused {summary['reused']}"
    )
    print(f"results: {run_dir / 'summary.csv'}")
    if best:
        print(best_line(resolved.objective, best))
    if summary["cancelled"]:
        return EXIT_CANCELLED
    return EXIT_OK if summary["failed"] == 0 and summary["completed"] == summary["cells"] else EXIT_FAILED_CELLS
