"""Finding a sweep's runs in an MLflow store by their tags: the parent run per sweep and a child run per cell.

Values go into MLflow filter strings, so what is searched for is checked first (check_filter_value). The searches
stay within what Azure ML's MLflow server answers as well: tag equality joined by AND, tag keys unescaped (no
backticks), ordered by the start_time run field; no LIKE/ILIKE, no != on tags, no OR, no ordering by attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rjobs.core.errors import InputError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

RUN_TAG, CELL_TAG, KIND_TAG = "rjobs.run", "rjobs.cell", "rjobs.kind"
PARENT_TAG = "mlflow.parentRunId"
SAFE_VALUE = "a value without quotes: letters, digits, '_', '-', '.' and '/'"
# Azure ML MLflow support matrix: https://learn.microsoft.com/azure/machine-learning/how-to-track-experiments-mlflow
OLDEST_FIRST = ["start_time ASC"]


def check_filter_value(what: str, value: str) -> str:
    """Values go into MLflow filter strings in quotes, so refuse the characters that would break them."""
    if not value or any(ch in value for ch in "'\"`\\\n"):
        raise InputError(None, what, f"{value!r} cannot be searched for in MLflow", f"use {SAFE_VALUE}")
    return value


def tag_filter(tags: Mapping[str, str]) -> str:
    """`tags.<key> = '<value>' AND ...`: MLflow reads tags.rjobs.run as the tag rjobs.run, and Azure ML's server
    does not take escaped (backticked) keys."""
    return " AND ".join(f"tags.{key} = '{check_filter_value(key, value)}'" for key, value in tags.items())


def all_experiment_ids(client: MlflowClient) -> list[str]:
    """Every active experiment of the store, page by page."""
    ids: list[str] = []
    token = None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


def find_parent(client: MlflowClient, run: str, experiment_ids: Sequence[str] | None = None) -> Run | None:
    """The sweep's parent run by tag (the oldest, if a race ever made two), in the given or every experiment."""
    check_filter_value("run name", run)
    if experiment_ids is None:
        experiment_ids = all_experiment_ids(client)
    if not experiment_ids:
        return None
    found = client.search_runs(
        list(experiment_ids),
        tag_filter({RUN_TAG: run, KIND_TAG: "sweep"}),
        order_by=OLDEST_FIRST,
        max_results=10,
    )
    return found[0] if found else None


def find_children(client: MlflowClient, experiment_id: str, parent_run_id: str) -> dict[str, Run]:
    """The parent's child runs keyed by their rjobs.cell tag (oldest wins on a duplicate)."""
    children: dict[str, Run] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            tag_filter({PARENT_TAG: parent_run_id, KIND_TAG: "cell"}),
            order_by=OLDEST_FIRST,
            max_results=1000,
            page_token=token,
        )
        for child in page:
            children.setdefault(child.data.tags.get(CELL_TAG, ""), child)
        token = page.token
        if not token:
            return children


def find_cell_run(client: MlflowClient, run: str, cell: str) -> Run | None:
    """A cell's child run, for registering its model; None when the sweep was never logged here."""
    parent = find_parent(client, run)
    if parent is None:
        return None
    return find_children(client, parent.info.experiment_id, parent.info.run_id).get(check_filter_value("cell", cell))
