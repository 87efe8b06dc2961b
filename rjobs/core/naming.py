"""Deterministic names: run names checked, each job named from run, cell and attempt, so names are idempotency keys."""

from __future__ import annotations

import re

from rjobs.core.errors import InputError

RUN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,79}$")
SOURCE_TAG = "rjobs.source"
"""Model-version tag naming the job output a version was made from: registering it again finds that version."""


def check_run_name(name: str) -> str:
    """A run name is part of every Azure job name: letters, digits, '_' and '-', letter first (inside the service's
    job-name rule, rjobs.core.azure_names, with room for `-<cell>-rN`); the whole name, so a trailing newline fails."""
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
        raise InputError(
            "--run-name",
            name,
            "is not a valid run name",
            "use a letter followed by up to 79 letters, digits, '_' or '-'",
        )
    return name


def slug(text: str, limit: int = 40) -> str:
    """Turn free text (an experiment name) into a run-name prefix."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:limit] or "sweep"
    return cleaned if cleaned[0].isalpha() else f"r{cleaned}"


def job_name(run: str, cell_id: str, attempt: int) -> str:
    """`<run>-<cell>` for the first attempt, `-rN` after: unique and stable, so resubmits never collide."""
    base = f"{run}-{cell_id}"
    return base if attempt <= 1 else f"{base}-r{attempt}"


def cell_of_job(run: str, name: str) -> str:
    """The cell id inside a job name of `run` (the inverse of job_name; cell ids hold no dash)."""
    return name.removeprefix(f"{run}-").split("-", 1)[0]
