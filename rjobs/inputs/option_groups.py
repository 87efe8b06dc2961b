"""SweepOptions fields grouped and ordered the way a user decides them, for `--help` and the Prefect run form."""

from __future__ import annotations

GROUPS: dict[str, tuple[str, ...]] = {
    "What to run": ("job", "grid", "grid_values", "param", "environment", "run_name", "dry_run", "emit_yaml"),
    "Where it runs": (
        "backend",
        "rscript",
        "pass_env",
        "workspace_config",
        "upload_to",
        "data_account_url",
        "datastore",
    ),
    "How many at once": (
        "max_concurrent",
        "retries",
        "timeout",
        "global_limit",
        "global_limit_size",
        "poll_interval",
        "max_cells",
        "pack",
        "pack_processes",
    ),
    "What to do with results": ("results", "select", "register_model", "model_path", "no_mlflow", "tracking_uri"),
}


def grouped_fields() -> list[tuple[str, str]]:
    """(group, field) in display order: every group in turn, its fields in the order above."""
    return [(group, name) for group, names in GROUPS.items() for name in names]
