"""Results a user can act on: selection, plots, MLflow tracking, model registry, the results CLI."""
