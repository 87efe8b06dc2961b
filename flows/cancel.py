"""Cancel every job of a sweep: `python -m flows.cancel --run NAME [--backend local|azureml]`.

Prefect's cancellation hooks are not guaranteed to run, so this works from the run's results folder alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.engine.cancel import cancel_run, known_runs
from rjobs.engine.ledger import RunLedger
from rjobs.engine.wiring import backend_by_name


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every job is terminal, 1 when some are still running at the deadline, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="python -m flows.cancel", description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run name (a folder under --results)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--backend", choices=("local", "azureml"), default="local")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for jobs to stop")
    args = parser.parse_args(argv)
    ledger = RunLedger(args.results, args.run)
    try:
        if not ledger.run_dir.is_dir():
            runs = ", ".join(known_runs(Path(args.results))) or "none"
            raise InputError(ledger.run_dir, "--run", "no such run", f"pass one of: {runs}")
        backend = backend_by_name(args.backend)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = cancel_run(ledger, backend, timeout=args.timeout)  # type: ignore[arg-type]
    print(
        f"run {args.run}: cancel requested for {len(report.requested)} job(s), "
        f"{len(report.already_done)} already finished"
    )
    if report.still_running:
        print(f"still running after {args.timeout:g} s: {', '.join(report.still_running)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
