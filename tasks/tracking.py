"""Prefect tasks that make a finished sweep actionable: MLflow runs, the best cell, its model and a plot."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from rjobs.backends.base import RegisteredModelRef, RegistersModels
from rjobs.engine.ledger import CellRecord
from rjobs.engine.sweep import Sweep
from rjobs.inputs.result_options import DEFAULT_MODEL_PATH, Objective, parse_objective
from rjobs.results.plots import plot_metric_by_param
from rjobs.results.registry import register_in_backend, register_local
from rjobs.results.selection import select_best
from rjobs.results.tracking import TrackingResult
from rjobs.results.tracking_record import log_sweep_of
from tasks.results import artifact_key

MAX_EMBEDDED_PNG = 300_000
MLFLOW_REGISTRY = "mlflow"
"""Where models go when the backend has no registry of its own."""


@task(name="log-to-mlflow", cache_policy=NO_CACHE)
def log_to_mlflow(sweep: Sweep, tracking_uri: str | None = None) -> TrackingResult:
    """Parent run + a child run per cell from the ledger; local sqlite store, or the workspace's MLflow on Azure, where
    each cell's child is its job's own run."""
    result, logged = log_sweep_of(sweep, tracking_uri)
    create_markdown_artifact(
        markdown=mlflow_markdown(result, sweep.settings.run),
        key=artifact_key(sweep.settings.run, "mlflow"),
        description=f"MLflow runs of sweep {sweep.settings.run}",
    )
    if not logged:
        get_run_logger().info(
            "MLflow %s already holds this sweep as it is (parent run %s): nothing to log",
            result.tracking_uri,
            result.parent_run_id,
        )
        return result
    if result.missing_job_runs:
        get_run_logger().warning(
            "MLflow %s does not hold the job runs of cell(s) %s (deleted, or run in another workspace): not logged",
            result.tracking_uri,
            ", ".join(result.missing_job_runs),
        )
    get_run_logger().info(
        "MLflow %s: parent run %s, %d run(s) created, %d updated, %d artifact folder(s) logged",
        result.tracking_uri,
        result.parent_run_id,
        result.created,
        result.updated,
        result.artifacts_logged,
    )
    return result


def mlflow_markdown(result: TrackingResult, run: str) -> str:
    """Where the sweep's MLflow runs are: links when the tracking server is a web server; for the local store, the
    command that serves it and the links that then open the parent run and each cell's run."""
    uri = result.tracking_uri
    lines = [f"# MLflow runs of sweep `{run}`", "", f"Tracking URI: `{uri}`", ""]
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
    elif uri.startswith("sqlite:"):
        base = "http://127.0.0.1:5000"
        lines += [f"Serve it with `mlflow ui --backend-store-uri {uri}`, then:", ""]
    else:
        base = ""

    def link(run_id: str) -> str:
        where = f"{base}/#/experiments/{result.experiment_id}/runs/{run_id}"
        return f"[`{run_id}`]({where})" if base else f"`{run_id}`"

    lines.append(f"- parent run: {link(result.parent_run_id)}")
    lines += [f"- cell `{cell}`: {link(run_id)}" for cell, run_id in sorted(result.child_run_ids.items())]
    return "\n".join(lines) + "\n"


@task(name="plot-sweep", cache_policy=NO_CACHE)
def plot_sweep(sweep: Sweep, select: Objective | str) -> Path:
    """results/<run>/<metric>_by_param.png for the chosen metric (grid order from summary.csv, so run it after)."""
    path = plot_metric_by_param(sweep.ledger, sweep.records(), select)
    get_run_logger().info("plot: %s", path)
    return path


@task(name="select-and-register", cache_policy=NO_CACHE)
def select_and_register(
    sweep: Sweep,
    select: Objective | str,
    register: str | None = None,
    model_path: str = DEFAULT_MODEL_PATH,
    tracking: TrackingResult | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Best cell (NoEligibleCellError when none), its model registered if asked, and a markdown artifact."""
    logger = get_run_logger()
    objective = parse_objective(select)
    records = sweep.records()
    best = select_best(records, objective)
    assert best is not None
    registered, registry = None, MLFLOW_REGISTRY
    if register:
        tags = {"rjobs.objective": str(objective), f"metric.{objective.metric}": best.metrics[objective.metric]}
        if isinstance(sweep.backend, RegistersModels):
            registered = register_in_backend(sweep.backend, register, sweep.ledger, best, model_path, tags)
            registry = sweep.backend.name
        else:
            registered = register_local(
                register,
                sweep.ledger,
                best,
                records,
                experiment=sweep.spec.experiment,
                model_path=model_path,
                tracking_uri=tracking.tracking_uri if tracking else None,
                extra_tags=tags,
            )
        verb = "registered" if registered.created else "already registered as"
        logger.info("cell %s %s model %s version %s", best.cell, verb, registered.name, registered.version)
    create_markdown_artifact(
        markdown=best_markdown(sweep.settings.run, str(objective), best, registered, tracking, plot, registry),
        key=artifact_key(sweep.settings.run, "best"),
        description=f"Sweep {sweep.settings.run}: best cell by {objective}",
    )
    logger.info("best cell by %s: %s (%s=%.6g)", objective, best.cell, objective.metric, best.metrics[objective.metric])
    return selection_summary(best, registered)


def selection_summary(best: CellRecord, registered: RegisteredModelRef | None) -> dict[str, Any]:
    """What the flow returns about the choice, JSON-friendly."""
    summary: dict[str, Any] = {"cell": best.cell, "params": dict(best.params), "metrics": dict(best.metrics)}
    if registered is not None:
        summary["model"] = {"name": registered.name, "version": registered.version, "source": registered.source}
    return summary


def png_data_uri(path: Path, limit: int = MAX_EMBEDDED_PNG) -> str | None:
    """The PNG inline as a data: URI, or None when it is too big to put in an artifact."""
    data = path.read_bytes()
    if len(data) > limit:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(title: str, values: Mapping[str, Any]) -> list[str]:
    rows = [f"| `{k}` | {v:.6g} |" if isinstance(v, float) else f"| `{k}` | `{v}` |" for k, v in values.items()]
    return [f"| {title} | value |", "|---|---|", *rows, ""]


def best_markdown(
    run: str,
    select: str,
    best: CellRecord,
    registered: RegisteredModelRef | None,
    tracking: TrackingResult | None,
    plot: Path | None,
    registry: str = MLFLOW_REGISTRY,
) -> str:
    """The best cell with its params and metrics, the registered model (in `registry`: the backend's own, or MLflow's),
    the MLflow runs and the plot inline."""
    metric = parse_objective(select).metric
    lines = [
        f"# Best cell of `{run}` by `{select}`",
        "",
        f"Cell **`{best.cell}`** (job `{best.job_name}`): `{metric}` = {best.metrics[metric]:.6g}",
        "",
        *_table("param", best.params),
        *_table("metric", dict(sorted(best.metrics.items()))),
    ]
    if registered is not None:
        state = "new version" if registered.created else "existing version, unchanged"
        lines += [
            f"Model: **`{registered.name}`** version **{registered.version}** ({state}) in {registry}, "
            f"from `{registered.source}`",
            "",
        ]
    if tracking is not None:
        child = tracking.child_run_ids.get(best.cell, "-")
        lines += [
            f"MLflow: `{tracking.tracking_uri}`, experiment id `{tracking.experiment_id}`, "
            f"parent run `{tracking.parent_run_id}`, this cell's run `{child}`",
            "",
        ]
    if plot is not None and plot.is_file():
        uri = png_data_uri(plot)
        if uri:
            lines += [f"![{metric} by parameter]({uri})", "", f"Plot file: `{plot}`"]
        else:
            lines.append(f"Plot (too big to embed): `{plot}`")
        lines.append("")
    return "\n".join(lines)
