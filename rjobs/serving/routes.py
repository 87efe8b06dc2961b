"""The container contract shared by serve.R, the local runner, the Dockerfile and the Azure deployment: its routes,
its port and the serve.R file itself."""

from __future__ import annotations

from pathlib import Path

from rjobs.core.azure_names import check_name

SCORING_ROUTE = "/score"
LIVENESS_ROUTE = "/health/live"
READINESS_ROUTE = "/health/ready"
CONTAINER_PORT = 8000
"""The port serve.R listens on inside the container (SERVE_PORT), named in the deployment's inference_config."""
SERVE_R = Path(__file__).with_name("serve.R")
"""The one serve.R: copied into every build context and run as is by the local server."""
MODEL_FILE = "model.rds"
PREDICT_FILE = "predict.R"


def check_endpoint_name(name: str, option: str = "--endpoint") -> str:
    """Azure ML's rule for an online endpoint's name (rjobs.core.azure_names), applied locally too so a name that
    serves here deploys there; it is also the build context's folder name."""
    return check_name("online_endpoint", name, option)
