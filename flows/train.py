"""`python -m flows.train`: validate, then run the train flow (flows/train_flow.py), or the sweep-job flow
(flows/sweep_job_flow.py) for a job YAML with `type: sweep`; `--help` lists every option.

Kept apart from the flow so `--help`, `--dry-run` and bad input answer before Prefect is imported.
"""

from __future__ import annotations

import sys

from flows.sweep_cli import main

if __name__ == "__main__":
    sys.exit(main())
