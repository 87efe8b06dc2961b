"""The container contract shared by serve.R, the local runner, the Dockerfile and the Azure deployment: its routes,
its port and the serve.R file itself."""

from __future__ import annotations

from pathlib import Path

SCORING_ROUTE = "/score"
LIVENESS_ROUTE = "/health/live"
READINESS_ROUTE = "/health/ready"
CONTAINER_PORT = 8000
"""The port serve.R listens on inside the container (SERVE_PORT), named in the deployment's inference_config."""
SERVE_R = Path(__file__).with_name("serve.R")
"""The one serve.R: copied into every build context and run as is by the local server."""
MODEL_FILE = "model.rds"
PREDICT_FILE = "predict.R"
