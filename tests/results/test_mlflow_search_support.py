"""The run searches tracking makes (find_parent, find_children) stay within what Azure ML's MLflow server answers:
tag equality joined by AND, unescaped tag keys, ordered by the start_time run field (rjobs.results.mlflow_runs)."""

from __future__ import annotations

import re
from typing import Any

from rjobs.results.mlflow_runs import tag_filter
from rjobs.results.tracking import log_sweep
from tests.results.conftest import Store, build_ledger, demo_cells

UNSUPPORTED_ON_AZURE = re.compile(r"`|\bI?LIKE\b|!=|\bOR\b|\bIN\b", re.IGNORECASE)


class RecordingClient:
    """The real MlflowClient, with each search_runs call's filter and order kept for the assertions."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.searches: list[tuple[str, list[str]]] = []

    def search_runs(self, experiment_ids: Any, filter_string: str = "", **kwargs: Any) -> Any:
        self.searches.append((filter_string, list(kwargs.get("order_by") or [])))
        return self.client.search_runs(experiment_ids, filter_string, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def assert_azure_searchable(filter_string: str, order_by: list[str]) -> None:
    from mlflow.utils.search_utils import SearchUtils

    assert not UNSUPPORTED_ON_AZURE.search(filter_string), filter_string
    clauses = SearchUtils.parse_search_filter(filter_string)
    assert clauses and all(c["type"] == "tag" and c["comparator"] == "=" for c in clauses), clauses
    assert set(order_by) <= {"start_time ASC", "start_time DESC"}, order_by


def test_logging_and_relogging_a_sweep_searches_only_as_azure_ml_allows(mlflow_store: Store) -> None:
    client = RecordingClient(mlflow_store.client)
    ledger, records = build_ledger(mlflow_store.root, "search-a", demo_cells(n_seeds=1))
    first = log_sweep(ledger, records, experiment="search-exp-a", backend="local", client=client)  # type: ignore[arg-type]
    again = log_sweep(ledger, records, experiment="search-exp-a", backend="local", client=client)  # type: ignore[arg-type]
    assert again.child_run_ids == first.child_run_ids  # the searches found the runs they were meant to
    assert len(client.searches) >= 3  # parent (twice) and children
    for filter_string, order_by in client.searches:
        assert_azure_searchable(filter_string, order_by)


def test_a_tag_filter_names_dotted_keys_unescaped_and_still_matches_them_in_mlflow() -> None:
    from mlflow.utils.search_utils import SearchUtils

    text = tag_filter({"rjobs.run": "sweep-1", "mlflow.parentRunId": "abc123"})
    assert text == "tags.rjobs.run = 'sweep-1' AND tags.mlflow.parentRunId = 'abc123'"
    parsed = SearchUtils.parse_search_filter(text)
    assert [(c["key"], c["value"]) for c in parsed] == [("rjobs.run", "sweep-1"), ("mlflow.parentRunId", "abc123")]
