"""Look at a finished sweep again: print its table, re-select the best cell, redraw the plot, register the model.

`python -m flows.results --run NAME [--select rmse:min] [--register NAME]`; no Prefect needed (engine only).
Exit codes: 0 ok, 1 no completed cell has the metric, 2 bad input (unknown run, bad --select, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rjobs.core.errors import InputError
from rjobs.engine.ledger import CellRecord, RunLedger
from rjobs.engine.wiring import backend_by_name
from rjobs.inputs.result_options import DEFAULT_MODEL_PATH, Objective, check_result_options, parse_objective
from rjobs.results.selection import NoEligibleCellError, select_best
from rjobs.results.table import format_table

EXIT_OK, EXIT_NO_ELIGIBLE, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows.results", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run name (a folder under --results)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--select", metavar="METRIC:min|max", help="pick the best completed cell, e.g. rmse:min")
    parser.add_argument(
        "--register",
        "--register-model",
        dest="register",
        metavar="NAME",
        help="register the best cell's model under NAME (needs --select)",
    )
    parser.add_argument(
        "--model-path", default=DEFAULT_MODEL_PATH, help=f"the model file in a cell (default: {DEFAULT_MODEL_PATH})"
    )
    parser.add_argument(
        "--backend", choices=("local", "azureml"), help="registry to use (default: the backend the sweep ran on)"
    )
    parser.add_argument(
        "--experiment", help="MLflow experiment if the sweep was never logged (default: run.json's, else rjobs)"
    )
    parser.add_argument("--tracking-uri", help="MLflow store for local registration (default: <results>/mlflow.db)")
    parser.add_argument(
        "--workspace-config", help="Azure ML config.json (default: found upward from here, else AZURE_* variables)"
    )
    parser.add_argument("--no-plot", action="store_true", help="do not redraw <metric>_by_param.png")
    return parser


def available_runs(root: Path) -> list[str]:
    """Folders of the results root that hold a finished sweep's summary.csv."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "summary.csv").is_file())


def open_run(results: str | Path, run: str) -> RunLedger:
    """The run's ledger, or an InputError naming the results folder and the runs it does hold."""
    ledger = RunLedger(results, run)
    if ledger.summary_path.is_file():
        return ledger
    runs = available_runs(ledger.root)
    fix = f"pick one of: {', '.join(runs)}" if runs else "run a sweep first (python -m flows.train)"
    if ledger.run_dir.is_dir():
        raise InputError(ledger.run_dir, None, "has no summary.csv (the sweep never finished)", fix)
    raise InputError(ledger.root, None, f"has no run {run!r}", fix)


def run_info(ledger: RunLedger) -> dict[str, Any]:
    try:
        data = json.loads(ledger.run_json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def register(
    args: argparse.Namespace, ledger: RunLedger, objective: Objective, best: CellRecord, records: list[CellRecord]
) -> str:
    """Register the best cell's model in the sweep's backend registry (MLflow's if it has none); the line to print."""
    from rjobs.backends.base import RegistersModels

    info = run_info(ledger)
    backend = backend_by_name(args.backend or info.get("backend") or "local", workspace_config=args.workspace_config)
    tags = {"rjobs.objective": str(objective), f"metric.{objective.metric}": best.metrics[objective.metric]}
    if isinstance(backend, RegistersModels):
        from rjobs.results.registry import register_in_backend

        made = register_in_backend(backend, args.register, ledger, best, args.model_path, tags)
    else:
        from rjobs.inputs.spec import DEFAULT_EXPERIMENT
        from rjobs.results.registry import register_local

        experiment = args.experiment or info.get("experiment") or DEFAULT_EXPERIMENT
        made = register_local(
            args.register,
            ledger,
            best,
            records,
            experiment=experiment,
            model_path=args.model_path,
            tracking_uri=args.tracking_uri,
            extra_tags=tags,
        )
    state = "registered" if made.created else "already registered (no new version)"
    return f"model {made.name} version {made.version} {state}: {made.source}"


def main(argv: list[str] | None = None) -> int:
    """Print the table; with --select also the best cell, the plot and (with --register) the model version."""
    args = build_parser().parse_args(argv)
    try:
        ledger = open_run(args.results, args.run)
        check_result_options(args.select, args.register, args.model_path)
        objective = parse_objective(args.select) if args.select else None
        records = ledger.records()
        best = select_best(records, objective) if objective else None
        print(format_table(ledger, best.cell if best else None, objective))
        if objective is None or best is None:
            return EXIT_OK
        params = ", ".join(f"{k}={v}" for k, v in best.params.items())
        print(f"\nbest by {objective}: {best.cell} ({params}) {objective.metric}={best.metrics[objective.metric]:.6g}")
        if not args.no_plot:
            from rjobs.results.plots import plot_metric_by_param

            print(f"plot: {plot_metric_by_param(ledger, records, objective)}")
        if args.register:
            print(register(args, ledger, objective, best, records))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NoEligibleCellError as exc:
        print(format_table(ledger))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_ELIGIBLE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
