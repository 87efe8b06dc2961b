"""`python -m flows.train`: the job file's `type` picks the command line: `sweep` runs a sweep job
(flows/sweep_cli.py), `parallel` a parallel job (flows/parallel_cli.py), any other a grid sweep of a command job
(flows/cli.py); `--help` lists every option.

Kept apart from the flows so `--help`, `--dry-run` and bad input answer before Prefect is imported.
"""

from __future__ import annotations

import sys

from flows.cli import DESCRIPTION, build_parser, options_from_args
from flows.cli import main as command_job_main
from flows.launch import bad_input
from rjobs.core.errors import InputError
from rjobs.inputs.options import check_pack
from rjobs.parallel.jobfile import is_parallel_job
from rjobs.search.sweep_file import is_sweep_file


def main(argv: list[str] | None = None) -> int:
    """Dispatch on the job file's type; options the chosen command line refuses are reported by it (exit 2)."""
    try:
        namespace = build_parser("python -m flows.train", DESCRIPTION).parse_args(argv)
        options = options_from_args(namespace)
    except InputError:
        return command_job_main(argv)
    if namespace.serve:  # --serve schedules the grid sweep of prefect.yaml's nightly retrain, whatever the job
        return command_job_main(argv)
    job_type = "sweep" if is_sweep_file(options.job) else "parallel" if is_parallel_job(options.job) else "command"
    try:
        check_pack(options, job_type)
    except InputError as exc:
        return bad_input(exc)
    if job_type == "sweep":
        from flows.sweep_cli import main_sweep

        return main_sweep(options)
    if job_type == "parallel":
        from flows.parallel_cli import main as parallel_main

        return parallel_main(options)
    return command_job_main(argv)


if __name__ == "__main__":
    sys.exit(main())
