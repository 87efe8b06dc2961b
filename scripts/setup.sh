#!/usr/bin/env bash
# Everything a fresh Debian machine (Python 3.11, root) needs to run and test the project:
# uv, the locked Python packages, R with the R packages (Debian's), and Azurite (npm) for tests.
# Idempotent and quick when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
    echo "installing uv (the Python package manager) with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check uv
fi
if [[ ! -x .venv/bin/python || uv.lock -nt .venv/.synced ]]; then
    echo "installing the Python packages of uv.lock into .venv (Prefect, pandas, MLflow, azure-ai-ml; a minute the first time)" >&2
fi
# --inexact: packages the user added (an extra such as azureml-mlflow, a tool) stay installed
uv sync --frozen --inexact --quiet
touch .venv/.synced

bash scripts/install-r.sh

if [[ "${1:-}" == "--dev" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
    fi
    if [[ ! -x node_modules/.bin/azurite-blob || package-lock.json -nt node_modules/.package-lock.json ]]; then
        echo "installing Azurite (the Blob Storage emulator the tests use) with npm" >&2
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
    fi
fi
