"""`python -m flows.train`: flags generated from SweepOptions (so CLI and Prefect form never drift), validation,
dry run and YAML emission without importing Prefect, then the flow, the table and the exit code."""

from __future__ import annotations

import argparse
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
from rjobs.inputs.options import ResolvedSweep, SweepOptions, option_error, resolve
from rjobs.results.selection import NoEligibleCellError

DESCRIPTION = "Fan an R job out over a parameter grid as Azure ML command jobs (or local Rscript), one results table."

UI_ONLY = frozenset({"grid_values"})


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """One flag per SweepOptions field: --max-concurrent for max_concurrent, and so on."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    for name, field in SweepOptions.model_fields.items():
        if name in UI_ONLY:
            continue
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        default = None if field.default_factory else field.default
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action="store_true", help=help_text)
        elif typing.get_origin(field.annotation) is list:
            metavar = "KEY=V1,V2" if name == "param" else "NAME"
            parser.add_argument(flag, dest=name, action="append", default=[], metavar=metavar, help=help_text)
        elif typing.get_origin(field.annotation) is typing.Literal:
            parser.add_argument(
                flag,
                dest=name,
                choices=typing.get_args(field.annotation),
                default=default,
                help=f"{help_text} (default: {default})",
            )
        else:
            shown = f" (default: {default})" if default is not None else ""
            parser.add_argument(
                flag, dest=name, default=argparse.SUPPRESS, metavar=name.upper(), help=help_text + shown
            )
    return parser


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


def print_table(run_dir: Path) -> None:
    """The summary table, short enough for a terminal, and the log tail of every cell that did not complete."""
    from rjobs.results.table import format_table

    print(format_table(RunLedger(run_dir.parent, run_dir.name)))


def main(argv: list[str] | None = None) -> int:
    """Validate everything first (exit 2 on bad input), run the flow, print the table, exit 0/1/130."""
    parser = build_parser("python -m flows.train", DESCRIPTION)
    try:
        options = options_from_args(parser.parse_args(argv))
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
    """The train flow with this sweep handed over, then the table and the exit code."""
    from flows.train_flow import HANDED_OVER, train

    state = run_handed_over(
        lambda: train(prepared.resolved.options, return_state=True), HANDED_OVER, prepared, server, "jobs"
    )
    return state if isinstance(state, int) else report(prepared.resolved, state)


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
    print_table(run_dir)
    print(
        f"\nrun {summary['run']}: {summary['completed']}/{summary['cells']} completed, {summary['failed']} failed, "
        f"{summary['cancelled']} cancelled; submitted {summary['submitted']}, reused {summary['reused']}"
    )
    print(f"results: {run_dir / 'summary.csv'}")
    best = result.get("best") if isinstance(result, dict) else None
    if best:
        model = best.get("model")
        registered = f"; model {model['name']} version {model['version']}" if model else ""
        print(f"best by {options.select}: {best['cell']} {best['params']}{registered}")
    if summary["cancelled"]:
        return EXIT_CANCELLED
    return EXIT_OK if summary["failed"] == 0 and summary["completed"] == summary["cells"] else EXIT_FAILED_CELLS
