# One command each: `make train` runs the demo sweep locally, `make test` runs every test.
# Both install what is missing first (uv, Python packages, R, Azurite) via scripts/setup.sh.
PY := .venv/bin/python
ARGS ?= --select rmse:min --register-model r-penguins

.PHONY: setup setup-dev train dry-run test test-fast lint

setup:
	@bash scripts/setup.sh

setup-dev:
	@bash scripts/setup.sh --dev

train: setup
	$(PY) -m flows.train $(ARGS)

dry-run: setup
	$(PY) -m flows.train --dry-run $(ARGS)

test: setup-dev
	$(PY) -m ruff check .
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Prefect server and UI, work pool, deployments (prefect.yaml) and a worker: see scripts/prefect.sh.
.PHONY: server pool deploy worker

server: setup
	@bash scripts/prefect.sh server

pool: setup
	@bash scripts/prefect.sh pool

deploy: setup
	@bash scripts/prefect.sh deploy

worker: setup
	@bash scripts/prefect.sh worker

# Orchestration benchmarks (issue 8): start-up, re-run, control-plane calls, scale on the fake Azure ML and
# the local fan-out against xargs, each as a ratio to a baseline; rewrites their section of bench/RESULTS.md.
# BENCH_ARGS=--full adds 10,000 cells on the fake and a round of 5 s cells (about 15-20 minutes more).
.PHONY: bench

bench: setup
	$(PY) -m bench.run_all $(BENCH_ARGS)
