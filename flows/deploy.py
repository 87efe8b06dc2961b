"""Serve a registered model (or a sweep's best cell) behind plumber: `python -m flows.deploy --model NAME[:VERSION]
--endpoint NAME [--backend local|azureml]`. Generates the build context (Dockerfile, serve.R, model) under
<results>/serving/<endpoint>/, then either runs that serve.R under local R on 127.0.0.1 until Ctrl-C (local), or
builds its image in the workspace's registry and deploys it to a managed online endpoint, blue-green (azureml).

Exit codes: 0 stopped cleanly, 1 the server failed, 2 bad input, 130 interrupted before it was ready.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from rjobs.core.errors import InputError, RJobsError, ServingError
from rjobs.inputs.result_options import DEFAULT_MODEL_PATH
from rjobs.results.selection import NoEligibleCellError
from rjobs.serving.context import BuildContext, write_context
from rjobs.serving.local_server import DEFAULT_HOST, LocalServer
from rjobs.serving.model_source import ServedModel, from_registry, from_run, parse_model_ref
from rjobs.serving.routes import MODEL_FILE, PREDICT_FILE, SCORING_ROUTE, check_endpoint_name

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="NAME[:VERSION]", help="a registered model (default version: the latest)")
    source.add_argument("--run", help="a finished sweep: serve its best cell by --select")
    parser.add_argument("--select", default="rmse:min", help="with --run: METRIC:min|max (default rmse:min)")
    parser.add_argument("--model-path", default=DEFAULT_MODEL_PATH, help="with --run: the model file in a cell")
    parser.add_argument("--endpoint", required=True, help="endpoint name (also the build context's folder)")
    parser.add_argument("--backend", choices=("local", "azureml"), default="local", help="where to serve")
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--predict", type=Path, help="your R file defining predict_rows(model, rows)")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    parser.add_argument("--tracking-uri", help="MLflow registry (default: <results>/mlflow.db)")
    parser.add_argument("--docker-context", type=Path, default=Path("docker-context"), help="the training image")
    parser.add_argument("--context-only", action="store_true", help="write the build context, serve nothing")
    azure = parser.add_argument_group("azureml")
    azure.add_argument("--auth-mode", choices=("key", "aml_token"), default="key", help="endpoint auth (default key)")
    azure.add_argument("--instance-type", help="VM size of the deployment (default Standard_DS3_v2)")
    azure.add_argument("--instance-count", type=int, default=1, help="instances (default 1)")
    azure.add_argument("--smoke-data", type=Path, default=Path("data/penguins.csv"), help="CSV: smoke-request rows")
    azure.add_argument("--workspace-config", help="Azure ML config.json (default: found upward, else AZURE_* vars)")
    return parser


def resolve_model(args: argparse.Namespace, scratch: Path) -> ServedModel:
    if args.model:
        return from_registry(parse_model_ref(args.model), args.results, scratch, args.tracking_uri)
    return from_run(args.results, args.run, args.select, args.model_path)


def prepare(args: argparse.Namespace, scratch: Path) -> tuple[ServedModel, BuildContext]:
    """The model and its build context, every input checked before anything is started."""
    check_endpoint_name(args.endpoint)
    if not 0 <= args.port <= 65535:
        raise InputError("--port", str(args.port), "is not a port", "pass 0-65535 (0 picks a free one)")
    if args.instance_count < 1:
        raise InputError("--instance-count", str(args.instance_count), "is below 1", "pass 1 or more")
    model = resolve_model(args, scratch)
    dest = Path(args.results) / "serving" / args.endpoint / "context"
    return model, write_context(dest, model, args.docker_context / "Dockerfile", args.predict)


def serve_until_stopped(server: LocalServer, stop: threading.Event) -> int:
    """Start, wait ready, print the URL, then wait for SIGINT or SIGTERM and stop R gracefully."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        if server.wait_ready(cancelled=stop.is_set) is None or stop.is_set():
            return EXIT_INTERRUPTED
        print(f"serving on {server.url} (POST {server.url}{SCORING_ROUTE}); Ctrl-C stops", flush=True)
        while not stop.wait(0.5):
            if server.exited():
                raise ServingError(server.url, "R exited while serving", server.log_path)
        status = server.stop()
        print(f"stopped (R exit status {status})", flush=True)
        return EXIT_OK
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def deploy_to_azure(args: argparse.Namespace, model: ServedModel, context: BuildContext) -> int:
    """Build the image in the workspace's registry and release it to the endpoint; keys are never printed."""
    from rjobs.backends.azureml.workspace import make_ml_client
    from rjobs.serving.azure_release import release, smoke_rows_from_csv

    try:
        rows = smoke_rows_from_csv(args.smoke_data)
        ml_client = make_ml_client(args.workspace_config)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tags = {"rjobs.model": f"{model.name}:{model.version}", **model.tags}
    try:
        outcome = release(
            ml_client,
            context,
            args.endpoint,
            rows,
            auth_mode=args.auth_mode,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            tags=tags,
            report=lambda line: print(line, flush=True),
        )
    except RJobsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"endpoint {outcome.endpoint}: {outcome.scoring_uri} serves deployment {outcome.deployment}", flush=True)
    print(f"credentials: az ml online-endpoint get-credentials -n {outcome.endpoint}", flush=True)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rjobs-deploy-") as scratch:
        try:
            model, context = prepare(args, Path(scratch))
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except NoEligibleCellError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"model {model.name}:{model.version}; build context {context.path} (tag {context.tag})", flush=True)
    if args.context_only:
        return EXIT_OK
    if args.backend == "azureml":
        return deploy_to_azure(args, model, context)
    predict = context.path / PREDICT_FILE
    server = LocalServer(
        context.path / "serve.R",
        context.path / MODEL_FILE,
        context.path.parent / "serve.log",
        host=args.host,
        port=args.port,
        predict=predict if predict.is_file() else None,
    )
    try:
        return serve_until_stopped(server, threading.Event())
    except ServingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
