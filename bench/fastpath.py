"""Prototype launcher: a re-run whose every cell is reused finishes without starting Prefect's temporary server.

Measured by bench/startup.py as the "fast path" re-run. When no Prefect API is configured, the flow run would
be recorded by a temporary server whose history is dropped when the process exits, and a sweep whose cells
are all Completed and collected asks nothing of the backend: the only lasting effects of the flow are
summary.csv and run.json, which the engine writes without Prefect. So: resolve, plan from the ledger, and if
every cell is `reuse` (and no --select), reconcile each cell with Sweep.run_cell (no backend call for a
reused cell), write the results, print the table, exit 0. Anything else runs the flow as today.
Caveat kept in the proposal: the MLflow re-log is skipped, so the ledger should record a successful log
(e.g. run.json's "mlflow" entry) and the fast path apply only when it is there.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path


def prefect_api_configured() -> bool:
    """PREFECT_API_URL in the environment or in the active profile, read without importing Prefect."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml"))
    try:
        data = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
    return bool(data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def main(argv: list[str]) -> int:
    from flows import cli

    options = cli.options_from_args(cli.build_parser("python -m flows.train", cli.DESCRIPTION).parse_args(argv))
    if options.dry_run or options.emit_yaml or options.select or prefect_api_configured():
        return cli.main(argv)
    from rjobs.sweep import Action, Sweep, SweepSettings
    from rjobs.tracking import experiment_for

    resolved = cli.resolve(options)
    backend = cli.make_backend(resolved)
    settings = SweepSettings(run=resolved.run, retries=options.retries)
    ledger = cli.RunLedger(resolved.results_root, resolved.run)
    sweep = Sweep(resolved.spec, resolved.cells, backend, ledger, settings, cli.JobMonitor(backend))
    if any(action != Action.REUSE for action in sweep.plan().values()):
        return cli.main(argv)
    for cell_id in sweep.cells:
        sweep.run_cell(cell_id)
    summary = sweep.finish({"max_concurrent": options.max_concurrent, "experiment": experiment_for(resolved.spec)})
    cli.print_table(ledger.run_dir)
    print(
        f"\nrun {summary['run']}: {summary['completed']}/{summary['cells']} completed, {summary['failed']} failed, "
        f"{summary['cancelled']} cancelled; submitted {summary['submitted']}, reused {summary['reused']}"
    )
    print(f"results: {ledger.run_dir.resolve() / 'summary.csv'} (every cell reused: Prefect not started)")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
