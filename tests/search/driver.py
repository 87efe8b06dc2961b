"""A sweep-job study in its own process, for tests that SIGKILL it: `python -m tests.search.driver --job J
--results R --run NAME [--kill-at submit:N]` runs the engine (Sweep + Study, no Prefect) and prints run.json's
summary as its last line; --kill-at SIGKILLs it right after the N-th such backend call (a point of progress)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.reliability.driver import KillAt
from tests.search.support import make_study


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.search.driver")
    parser.add_argument("--job", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--kill-at")
    args = parser.parse_args()
    wrap = None
    if args.kill_at:
        event, _, count = args.kill_at.partition(":")

        def wrap(backend: Any) -> Any:
            return KillAt(backend, event, int(count))

    study = make_study(Path(args.job), Path(args.results), args.run, wrap=wrap)
    print("ready", flush=True)
    study.run()
    print(json.dumps(study.sweep.finish()), flush=True)


if __name__ == "__main__":
    main()
