"""`python -m flows.train --serve`: the nightly retrain scheduled on this machine with Prefect's `serve`, one step
instead of server, pool, deploy and worker. The schedule and parameters are prefect.yaml's nightly-retrain (one
definition for both paths); flags given beside --serve override its parameters."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from flows.temporary_server import TemporaryServer
from rjobs.core.errors import InputError
from rjobs.inputs.options import SweepOptions, resolve

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"
NIGHTLY = "nightly-retrain"
SERVED_NAME = "nightly-served"
"""A name of its own, so a served schedule never replaces the work-pool deployment of a team's server."""


def nightly_deployment(path: Path = PREFECT_YAML) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    [deployment] = [d for d in config["deployments"] if d["name"] == NIGHTLY]
    return dict(deployment)


def served_parameters(options: SweepOptions, nightly: dict[str, Any]) -> dict[str, Any]:
    """The nightly parameters with the flags the user gave on top (argparse fills in defaults: those never override)."""
    given = {}
    for name in options.model_fields_set:
        field, value = SweepOptions.model_fields[name], getattr(options, name)
        if value != ([] if field.default_factory is list else field.default):
            given[name] = value
    return {**nightly.get("parameters", {}), **given}


def serve(options: SweepOptions) -> int:
    """Check the served parameters as a run would (exit 2 on bad input), then serve until Ctrl-C."""
    from flows.parameters import options_from_parameters

    nightly = nightly_deployment()
    parameters = served_parameters(options, nightly)
    try:
        resolve(options_from_parameters(parameters))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = TemporaryServer.start_unless_configured()
    if server is not None:
        server.wait()
        print("no PREFECT_API_URL: serving on a temporary server (start `make server` first to watch it in the UI)")
    from prefect.schedules import Cron

    from flows.train_flow import train

    schedules = [Cron(s["cron"], timezone=s.get("timezone")) for s in nightly.get("schedules", [])]
    train.serve(
        name=SERVED_NAME,
        schedules=schedules,
        parameters=parameters,
        tags=list(nightly.get("tags", [])),
        description=nightly.get("description"),
        limit=1,  # two nightly sweeps never run side by side, as the work-pool deployment's concurrency limit
    )
    return 0
