"""Prefect flows. The engine's loggers (rjobs.*) are sent to Prefect's console and UI too."""

import os

os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "rjobs")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
