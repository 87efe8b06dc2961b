"""`r-azure-ml <command> [options]`: the installed command, run in your own R project folder.

train, score, cancel and results take the options of `python -m flows.<command>` (`--help` after the command lists
them); paths are relative to the current folder, so the job.yml beside you is the job. r-helper copies the R helper
(rjobs.R: log_metrics, log_params, output_path, read_sweep) into a folder; renv-context writes the environment's
build context (Dockerfile + renv.lock) from a renv.lock.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

from rjobs.core.errors import InputError
from rjobs.environment.renv_context import GENERATED_MARK, write_renv_context
from rjobs.environment.renv_lock import LOCK_FILE, read_renv_lock
from rjobs.rhelper import write_helper

EXIT_BAD_INPUT = 2
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("flows.train", "run job.yml as a parameter sweep (grid.yml beside it), a sweep or a parallel job"),
    "score": ("flows.score", "score data with a registered model"),
    "deploy": ("flows.deploy", "serve a registered model: local R with plumber, or an Azure ML online endpoint"),
    "cancel": ("flows.cancel", "cancel every job of a sweep"),
    "results": ("flows.results", "print a finished sweep's table again, re-select, re-register"),
}


def _usage() -> str:
    lines = [__doc__.splitlines()[0], "", "commands:"]
    lines += [f"  {name:<12} {summary}" for name, (module, summary) in COMMANDS.items() if find_spec(module)]
    lines.append(f"  {'r-helper':<12} copy rjobs.R (the R side: log_metrics, read_sweep, ...) into a folder")
    lines.append(f"  {'renv-context':<12} write docker-context/ (Dockerfile pinning every package) from renv.lock")
    return "\n".join(lines)


def r_helper(argv: list[str]) -> int:
    """Write rjobs.R into the folder given (default: the current one), for R scripts to source."""
    parser = argparse.ArgumentParser(prog="r-azure-ml r-helper", description=r_helper.__doc__)
    parser.add_argument("folder", nargs="?", default=".", help="your code folder (job.yml's code:)")
    parser.add_argument("--force", action="store_true", help="replace an rjobs.R that differs")
    args = parser.parse_args(argv)
    try:
        path, written = write_helper(Path(args.folder), force=args.force)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f'{"wrote" if written else "up to date:"} {path}; in R: source("rjobs.R")')
    return 0


def renv_context(argv: list[str]) -> int:
    """Write the environment's build context from renv.lock: the lock's R version and every package pinned."""
    parser = argparse.ArgumentParser(prog="r-azure-ml renv-context", description=renv_context.__doc__)
    parser.add_argument("--lock", default=LOCK_FILE, help=f"the lock file (default: {LOCK_FILE})")
    parser.add_argument("--out", default="docker-context", help="the build context folder (default: docker-context)")
    parser.add_argument("--force", action="store_true", help="replace a Dockerfile this command did not write")
    args = parser.parse_args(argv)
    dockerfile = Path(args.out) / "Dockerfile"
    try:
        if not Path(args.lock).is_file():
            raise InputError(args.lock, None, "not found", "pass --lock with your renv.lock (renv::snapshot())")
        generated = dockerfile.is_file() and dockerfile.read_text(encoding="utf-8").startswith(GENERATED_MARK)
        if dockerfile.exists() and not generated and not args.force:
            raise InputError(dockerfile, None, "exists and was not generated from renv.lock", "pass --force")
        written = write_renv_context(read_renv_lock(Path(args.lock)), Path(args.out))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {written} and {written.with_name(LOCK_FILE)}")
    return 0


def _command_main(name: str) -> Callable[[list[str]], int] | None:
    """The main() of a subcommand's module, or None when this version has no such module (e.g. score)."""
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return module.main


LOCAL_COMMANDS: dict[str, Callable[[list[str]], int]] = {"r-helper": r_helper, "renv-context": renv_context}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand; exit codes are the subcommand's (2 for an unknown one)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else EXIT_BAD_INPUT
    name, rest = args[0], args[1:]
    if name in LOCAL_COMMANDS:
        return LOCAL_COMMANDS[name](rest)
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; one of: {', '.join([*COMMANDS, *LOCAL_COMMANDS])}", file=sys.stderr)
        return EXIT_BAD_INPUT
    command = _command_main(name)
    if command is None:
        print(f"error: {name} is not part of this version of r-azure-ml", file=sys.stderr)
        return EXIT_BAD_INPUT
    return int(command(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
