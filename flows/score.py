"""`python -m flows.score --model NAME[:VERSION] --data PATH`: score a table (or folder) with a model a sweep
registered, as a parallel job of r_src/score.R (mini-batches, thresholds, resume, rows appended into
results/<run>/predictions.csv); exit 2 on bad input, 1 when batches failed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.inputs.options import SweepOptions
from rjobs.parallel.scoring import resolve_model, write_score_job
from rjobs.results.tracking import local_tracking_uri

REPO = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows.score", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a registered model NAME[:VERSION], or a model.rds file")
    parser.add_argument("--data", required=True, help="CSV or Parquet table (or a folder of files) to score")
    parser.add_argument("--mini-batch-size", type=int, default=5000, help="rows (files) per batch (default 5000)")
    parser.add_argument("--code", default=str(REPO / "r_src"), help="the folder holding score.R (default r_src)")
    parser.add_argument("--results", default="results", help="results folder (default results)")
    parser.add_argument("--tracking-uri", default=None, help="MLflow registry (default sqlite:///<results>/mlflow.db)")
    parser.add_argument("--backend", choices=("local", "azureml"), default="local", help="where batches run")
    parser.add_argument("--run-name", default=None, help="run name (default derived from the job's content)")
    parser.add_argument("--dry-run", action="store_true", help="show the batches; run nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Resolve the model, write the scoring job file, then run it as any parallel job."""
    from flows.parallel_cli import main as parallel_main

    args = build_parser().parse_args(argv)
    results = Path(args.results)
    try:
        if args.mini_batch_size < 1:
            raise InputError("--mini-batch-size", str(args.mini_batch_size), "is below 1", "give rows per batch")
        tracking_uri = args.tracking_uri or local_tracking_uri(results)
        model = resolve_model(args.model, tracking_uri, results / "score-models")
        job = write_score_job(model, Path(args.data), Path(args.code), args.mini_batch_size, results / "score-jobs")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = SweepOptions(
        job=str(job), results=str(results), backend=args.backend, run_name=args.run_name, dry_run=args.dry_run
    )
    return parallel_main(options)


if __name__ == "__main__":
    sys.exit(main())
