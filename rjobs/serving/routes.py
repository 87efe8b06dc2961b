"""The container contract shared by serve.R, the local runner, the Dockerfile and the Azure deployment: its routes,
its port and the serve.R file itself."""

from __future__ import annotations

import re
from pathlib import Path

from rjobs.core.errors import InputError

SCORING_ROUTE = "/score"
LIVENESS_ROUTE = "/health/live"
READINESS_ROUTE = "/health/ready"
CONTAINER_PORT = 8000
"""The port serve.R listens on inside the container (SERVE_PORT), named in the deployment's inference_config."""
SERVE_R = Path(__file__).with_name("serve.R")
"""The one serve.R: copied into every build context and run as is by the local server."""
MODEL_FILE = "model.rds"
PREDICT_FILE = "predict.R"

ENDPOINT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
"""Azure ML's rule for an online endpoint's name (3-32 characters, a letter first, letters, digits and '-'), applied
locally too so a name that serves here deploys there; it is also the build context's folder name."""


def check_endpoint_name(name: str, option: str = "--endpoint") -> str:
    """The name, or an InputError naming the rule."""
    if not ENDPOINT_NAME.fullmatch(name):
        fix = "use 3-32 letters, digits or '-', starting with a letter and not ending with '-'"
        raise InputError(option, repr(name), "is not an endpoint name", fix)
    return name
