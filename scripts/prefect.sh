#!/usr/bin/env bash
# Prefect server, work pool, deployments and worker for this clone, one subcommand each:
#   scripts/prefect.sh server   # Prefect server and UI on 127.0.0.1:${PREFECT_PORT:-4200} (foreground)
#   scripts/prefect.sh pool     # create the process work pool if it is missing
#   scripts/prefect.sh deploy   # register every deployment of prefect.yaml
#   scripts/prefect.sh worker   # run the pool's flow runs here, in this clone (foreground)
# PREFECT_API_URL defaults to that server, so the other three talk to it rather than to a temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFECT=.venv/bin/prefect
PORT="${PREFECT_PORT:-4200}"
POOL=r-azure-ml-process  # as in prefect.yaml
export PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:${PORT}/api}"

case "${1:-}" in
    server)
        exec "$PREFECT" server start --host 127.0.0.1 --port "$PORT"
        ;;
    pool)
        if "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1; then
            echo "work pool $POOL exists"
        else
            "$PREFECT" work-pool create "$POOL" --type process
        fi
        ;;
    deploy)
        # Unset, the pull step's {{ $R_AZURE_ML_DIR }} is stored as is and read on the worker at run time;
        # set, `prefect deploy` would bake this machine's value into the deployments.
        exec env -u R_AZURE_ML_DIR "$PREFECT" --no-prompt deploy --all
        ;;
    worker)
        # prefect.yaml's pull step enters this directory when a flow run starts.
        R_AZURE_ML_DIR="${R_AZURE_ML_DIR:-$(pwd)}"
        export R_AZURE_ML_DIR
        exec "$PREFECT" worker start --pool "$POOL" --type process
        ;;
    *)
        echo "usage: $0 server|pool|deploy|worker" >&2
        exit 2
        ;;
esac
