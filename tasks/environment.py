"""Prefect tasks that prepare a sweep once, before the fan-out: data, environment, code."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from rjobs.backends.base import EnvironmentInfo
from rjobs.engine.sweep import Sweep


@task(name="stage-data", cache_policy=NO_CACHE)
def stage_data(sweep: Sweep, uploaded: dict[str, str] | None = None) -> list[str]:
    """Make the job's data reachable by jobs (local paths checked, uploaded copies, or data assets on Azure)."""
    sweep.stage_data(uploaded)
    refs = [f"{name}={spec.path}" for name, spec in sweep.inputs.items() if not spec.is_literal]
    get_run_logger().info("data inputs: %s", ", ".join(refs) or "none")
    return refs


@task(name="check-environment", cache_policy=NO_CACHE)
def check_environment(sweep: Sweep) -> EnvironmentInfo:
    """Prove the environment before N jobs depend on it; warnings are shown, errors stop the sweep."""
    info = sweep.backend.ensure_environment(sweep.spec)
    logger = get_run_logger()
    for warning in info.warnings:
        logger.warning(warning)
    logger.info("environment: %s", info.reference)
    return info


@task(name="upload-code", cache_policy=NO_CACHE)
def upload_code(sweep: Sweep) -> None:
    """Upload the code snapshot once, so concurrent submissions don't race on it."""
    sweep.backend.ensure_code(sweep.spec)
